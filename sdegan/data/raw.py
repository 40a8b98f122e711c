"""Raw path arrays, their validation, deterministic seeded streams and train/val/test splits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sdegan.errors import DataError

# Independent random streams derived from one user seed (numpy SeedSequence spawn keys), so that for example
# the split assignment is never correlated with the simulated data.
STREAM_DATA = 0
STREAM_MISSING = 1
STREAM_SPLIT = 2
STREAM_TASK = 3
STREAM_SUBSET = 4


def seeded_rng(seed: int, stream: int) -> np.random.Generator:
    """A numpy generator for ``stream`` of ``seed``; distinct streams are statistically independent."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=(stream,)))


@dataclass
class RawPaths:
    """Paths in original units before splitting and normalisation.

    Attributes:
        times: ``(paths, length)`` observation times, finite and strictly increasing along each path.
        values: ``(paths, length, channels)`` observations, NaN where missing.
        channel_names: one name per value channel.
        groups: optional ``(paths,)`` integer labels; paths sharing a label always land in the same split
            (used to keep correlated windows, e.g. the same hours at different stations, out of different splits).
    """

    times: np.ndarray
    values: np.ndarray
    channel_names: list[str]
    groups: np.ndarray | None = field(default=None)


def random_subset(raw: RawPaths, num_paths: int | None, seed: int, source: str) -> RawPaths:
    """``raw`` itself if ``num_paths`` is None, else a seeded random subset of ``num_paths`` paths (in order)."""
    if num_paths is None:
        return raw
    available = len(raw.times)
    if not isinstance(num_paths, int) or not 1 <= num_paths <= available:
        raise DataError(f"{source}: num_paths must be null or an integer in [1, {available}], got {num_paths!r}")
    keep = np.sort(seeded_rng(seed, STREAM_SUBSET).permutation(available)[:num_paths])
    groups = None if raw.groups is None else raw.groups[keep]
    return RawPaths(raw.times[keep], raw.values[keep], list(raw.channel_names), groups)


def validate_paths(raw: RawPaths, source: str) -> None:
    """Raise ``ValueError`` naming ``source`` if ``raw`` is empty, mis-shaped, has bad times or all-NaN paths."""
    times, values = raw.times, raw.values
    if times.ndim != 2 or values.ndim != 3 or values.shape[:2] != times.shape:
        raise DataError(
            f"{source}: times must be (paths, length) and values (paths, length, channels); "
            f"got {times.shape} and {values.shape}"
        )
    num_paths, length, num_channels = values.shape
    if num_paths == 0:
        raise DataError(f"{source}: no paths were produced (empty dataset)")
    if length < 2:
        raise DataError(f"{source}: paths need at least 2 observations, got length {length}")
    if num_channels == 0 or len(raw.channel_names) != num_channels:
        raise DataError(f"{source}: {num_channels} value channels but channel names {raw.channel_names}")
    if not np.all(np.isfinite(times)):
        bad = int(np.argwhere(~np.isfinite(times))[0, 0])
        raise DataError(f"{source}: times must be finite (never NaN); path {bad} has a missing time")
    steps = np.diff(times, axis=1)
    if np.any(steps <= 0):
        path, position = (int(i) for i in np.argwhere(steps <= 0)[0])
        raise DataError(
            f"{source}: times must be strictly increasing along each path; path {path} has time "
            f"{times[path, position + 1]} after {times[path, position]} (position {position + 1})"
        )
    all_missing = np.all(np.isnan(values), axis=(1, 2))
    if np.any(all_missing):
        indices = np.flatnonzero(all_missing)
        raise DataError(
            f"{source}: {len(indices)} of {num_paths} paths have no observed values at all (all NaN), "
            f"e.g. path {indices[:5].tolist()}; remove them or lower the missing fraction"
        )
    if raw.groups is not None and raw.groups.shape != (num_paths,):
        raise DataError(f"{source}: groups must have shape ({num_paths},), got {raw.groups.shape}")


def split_counts(num_items: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """Sizes (train, val, test) for ``num_items``; every split gets at least one item or an error is raised."""
    for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < fraction < 1.0:
            raise DataError(f"{name} must lie strictly between 0 and 1, got {fraction}")
    if val_fraction + test_fraction >= 1.0:
        raise DataError(
            f"val_fraction + test_fraction must be below 1 to leave a train split, got {val_fraction + test_fraction}"
        )
    num_val = max(1, round(num_items * val_fraction))
    num_test = max(1, round(num_items * test_fraction))
    num_train = num_items - num_val - num_test
    if num_train < 1:
        raise DataError(
            f"{num_items} paths are too few for a train/val/test split with val_fraction={val_fraction} "
            f"and test_fraction={test_fraction}; at least 3 are needed"
        )
    return num_train, num_val, num_test


def split_indices(
    num_items: int, val_fraction: float, test_fraction: float, seed: int, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic disjoint (train, val, test) index arrays covering ``range(num_items)``, sorted.

    Without ``groups``, a seeded permutation of the items is cut by the fractions. With ``groups``, whole
    groups are assigned (in seeded random order: test first, then val, then the rest to train) until each
    held-out split holds at least its fraction of the items.
    """
    rng = seeded_rng(seed, STREAM_SPLIT)
    if groups is None:
        num_train, num_val, _ = split_counts(num_items, val_fraction, test_fraction)
        order = rng.permutation(num_items)
        train, val, test = order[:num_train], order[num_train : num_train + num_val], order[num_train + num_val :]
        return np.sort(train), np.sort(val), np.sort(test)

    labels, inverse = np.unique(groups, return_inverse=True)
    if len(labels) < 3:
        raise DataError(f"{len(labels)} groups are too few for a train/val/test split; at least 3 are needed")
    _, num_val, num_test = split_counts(num_items, val_fraction, test_fraction)
    sizes = np.bincount(inverse)
    assignment = np.zeros(len(labels), dtype=np.int64)  # 0 train, 1 val, 2 test
    filled = {1: 0, 2: 0}
    targets = {2: num_test, 1: num_val}
    for group in rng.permutation(len(labels)):
        for split in (2, 1):
            if filled[split] < targets[split]:
                assignment[group] = split
                filled[split] += int(sizes[group])
                break
    per_item = assignment[inverse]
    train, val, test = (np.flatnonzero(per_item == split) for split in (0, 1, 2))
    if len(train) == 0:
        raise DataError(
            f"no groups are left for the train split with val_fraction={val_fraction} and "
            f"test_fraction={test_fraction}; use more data or smaller fractions"
        )
    return train, val, test

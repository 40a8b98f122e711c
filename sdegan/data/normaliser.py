"""Per-channel affine normalisation of paths, fitted on the train split and kept for the inverse.

Values that make normalisation meaningless are refused (docs/data.md, "Values the data may hold"):

- at parsing, every value must be finite with magnitude at most :data:`MAX_VALUE_MAGNITUDE` (float32's
  largest number: paths are stored in float32), in every split;
- the train statistics of a channel must not be dominated by a few extreme values: its standard deviation
  may be at most :data:`MAX_NORMALISED_MAGNITUDE` times its robust spread (1.4826 x the median absolute
  deviation, equal to the standard deviation for normal data); beyond that, the other values, normalised,
  differ only in float32's last digits and the model would see a constant;
- every normalised value (any split) must lie within :data:`MAX_NORMALISED_MAGNITUDE` train standard
  deviations of the train mean; beyond that, powers of it (signature terms, squared errors) overflow float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sdegan.errors import DataError

MAX_VALUE_MAGNITUDE = float(np.finfo(np.float32).max)
VALUE_RANGE_RULE = (
    f"values must be finite numbers of magnitude at most {MAX_VALUE_MAGNITUDE:.3g} (paths are stored in float32)"
)
MAX_NORMALISED_MAGNITUDE = 1e6
ROBUST_SPREAD_FACTOR = 1.4826  # median absolute deviation x this = standard deviation, for normal data


def first_out_of_range(values: np.ndarray) -> int | None:
    """Index of the first entry of 1-D ``values`` that is neither missing (NaN) nor within the value range
    (finite, magnitude at most :data:`MAX_VALUE_MAGNITUDE`), or None; loaders name its file and row."""
    bad = ~np.isnan(values) & ~(np.abs(values) <= MAX_VALUE_MAGNITUDE)
    return int(np.flatnonzero(bad)[0]) if bad.any() else None


class Normaliser:
    """Maps values to ``(value - mean) / std`` per channel; the time channel (0) is never touched.

    Arguments:
        mean: per-channel means, shape ``(channels,)``, in original units.
        std: per-channel standard deviations, shape ``(channels,)``, all positive.
        channel_names: names of the value channels (for error messages and docs).
        time_unit: the length of one unit of the paths' time channel in the data's own time unit (the csv
            dataset's ``time_scale``; 1 where the loader does not rescale time). Never applied by
            :meth:`transform`; it lets outputs report times in the data's units.
    """

    def __init__(
        self, mean: Sequence[float], std: Sequence[float], channel_names: Sequence[str], time_unit: float = 1.0
    ) -> None:
        mean_array = np.asarray(mean, dtype=np.float64)
        std_array = np.asarray(std, dtype=np.float64)
        if mean_array.shape != std_array.shape or mean_array.ndim != 1:
            raise DataError(f"mean and std must be 1-D of equal length, got {mean_array.shape} and {std_array.shape}")
        if len(channel_names) != len(mean_array):
            raise DataError(f"{len(channel_names)} channel names given for {len(mean_array)} channels")
        for name, m, s in zip(channel_names, mean_array, std_array):
            if not np.isfinite(m) or not np.isfinite(s) or s <= 0:
                raise DataError(
                    f"channel {name!r} cannot be normalised (mean {m}, std {s}): it is constant or has no "
                    "observed values in the train split"
                )
        if not (np.isfinite(time_unit) and time_unit > 0):
            raise DataError(f"time_unit must be a positive number, got {time_unit}")
        self.mean = mean_array
        self.std = std_array
        self.channel_names = list(channel_names)
        self.time_unit = float(time_unit)

    @classmethod
    def fit(cls, values: np.ndarray, channel_names: Sequence[str], time_unit: float = 1.0) -> Normaliser:
        """Mean and (unbiased) std of every non-NaN entry of ``values`` ``(paths, length, channels)``.

        Raises :class:`~sdegan.errors.DataError` for a channel whose standard deviation is more than
        :data:`MAX_NORMALISED_MAGNITUDE` times its robust spread (see the module docstring).
        """
        flat = values.reshape(-1, values.shape[-1])
        counts = np.sum(~np.isnan(flat), axis=0)
        mean = np.full(flat.shape[-1], np.nan)
        std = np.full(flat.shape[-1], np.nan)
        for channel, count in enumerate(counts):
            observed = flat[~np.isnan(flat[:, channel]), channel]
            if count >= 2:
                mean[channel] = observed.mean()
                std[channel] = observed.std(ddof=1)
                _check_not_dominated_by_extremes(observed, std[channel], channel_names[channel])
        return cls(mean, std, channel_names, time_unit)

    @property
    def num_channels(self) -> int:
        """Number of value channels (excluding time)."""
        return len(self.mean)

    def _check(self, paths: torch.Tensor) -> None:
        if paths.shape[-1] != 1 + self.num_channels:
            raise DataError(
                f"expected paths with last dimension 1 + {self.num_channels} (time + channels), "
                f"got shape {tuple(paths.shape)}"
            )

    def transform(self, paths: torch.Tensor) -> torch.Tensor:
        """Normalise the value channels of ``paths (..., 1 + channels)``; returns a new tensor."""
        self._check(paths)
        mean = torch.as_tensor(self.mean, dtype=paths.dtype, device=paths.device)
        std = torch.as_tensor(self.std, dtype=paths.dtype, device=paths.device)
        normalised = (paths[..., 1:] - mean) / std
        too_far = normalised.abs() > MAX_NORMALISED_MAGNITUDE
        if bool(too_far.any()):
            index = tuple(int(i) for i in too_far.nonzero()[0])
            channel = index[-1]
            raise DataError(
                f"path {index[0]}, observation {index[1]}: channel {self.channel_names[channel]!r} has value "
                f"{float(paths[index[:-1] + (1 + channel,)]):g}, {float(normalised[index].abs()):.3g} train standard "
                f"deviations from the train mean ({self.mean[channel]:.4g}); at most {MAX_NORMALISED_MAGNITUDE:g} can "
                "be modelled in float32 (powers of it overflow). Correct the value or leave it empty (missing)"
            )
        return torch.cat([paths[..., :1], normalised], dim=-1)

    def inverse_transform(self, paths: torch.Tensor) -> torch.Tensor:
        """Map normalised ``paths (..., 1 + channels)`` back to original units (time untouched)."""
        self._check(paths)
        mean = torch.as_tensor(self.mean, dtype=paths.dtype, device=paths.device)
        std = torch.as_tensor(self.std, dtype=paths.dtype, device=paths.device)
        return torch.cat([paths[..., :1], paths[..., 1:] * std + mean], dim=-1)

    def state_dict(self) -> dict[str, Any]:
        """Plain-Python state (for checkpoints): means, stds, channel names and the time unit."""
        return {
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "channel_names": list(self.channel_names),
            "time_unit": self.time_unit,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Normaliser:
        """Inverse of :meth:`state_dict` (a state without ``time_unit``, from older checkpoints, gets 1)."""
        return cls(state["mean"], state["std"], state["channel_names"], state.get("time_unit", 1.0))

    def __repr__(self) -> str:
        return (
            f"Normaliser(channels={self.channel_names}, mean={self.mean.tolist()}, std={self.std.tolist()}, "
            f"time_unit={self.time_unit})"
        )


def _check_not_dominated_by_extremes(observed: np.ndarray, std: float, name: str) -> None:
    robust_spread = ROBUST_SPREAD_FACTOR * float(np.median(np.abs(observed - np.median(observed))))
    if robust_spread > 0 and std > MAX_NORMALISED_MAGNITUDE * robust_spread:
        raise DataError(
            f"channel {name!r} cannot be normalised meaningfully: a few extreme train values (largest magnitude "
            f"{float(np.max(np.abs(observed))):.3g}) make its standard deviation {std:.3g}, more than "
            f"{MAX_NORMALISED_MAGNITUDE:g} times the spread of the rest ({robust_spread:.3g}, from the median "
            "absolute deviation), so normalised the other values would be a constant in float32. Correct the "
            "outliers or leave those cells empty (missing)"
        )

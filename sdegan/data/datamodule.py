"""`PathDataModule`: the one LightningDataModule every dataset goes through (docs/architecture.md)."""

from __future__ import annotations

import abc
import math
import warnings

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from sdegan.data.normaliser import Normaliser
from sdegan.data.paths import RawPaths, split_indices, validate_paths


class PathDataModule(pl.LightningDataModule, abc.ABC):
    """Splits, normalises and serves paths ``(batch, length, 1 + channels)``: channel 0 time, NaN = missing.

    Subclasses implement :meth:`load_raw` (paths in original units). After :meth:`setup` the module exposes
    ``num_channels``, ``channel_names``, ``times`` (the generation grid), ``dt`` (a suggested solver step: the
    smallest spacing of ``times``), ``train_paths``,
    ``val_paths``, ``test_paths`` (normalised with train-split statistics only) and ``normaliser``.

    Arguments:
        batch_size: paths per batch for every dataloader.
        seed: seeds the data (where generated), the split and the train shuffling.
        val_fraction: fraction of paths in the validation split (0 < f < 1).
        test_fraction: fraction of paths in the test split (0 < f < 1).
        num_workers: dataloader worker processes.
    """

    def __init__(
        self, *, batch_size: int, seed: int, val_fraction: float = 0.1, test_fraction: float = 0.1, num_workers: int = 0
    ) -> None:
        super().__init__()
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers must be a non-negative integer, got {num_workers!r}")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.batch_size = batch_size
        self.seed = seed
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.num_workers = num_workers
        self._is_set_up = False

    # ----------------------------------------------------------------------------------------------- subclass API
    @property
    @abc.abstractmethod
    def description(self) -> str:
        """Short human-readable name of the data source, used in error messages."""

    @abc.abstractmethod
    def load_raw(self) -> RawPaths:
        """All paths in original units, before splitting and normalisation."""

    def fit_normaliser(self, train: RawPaths) -> Normaliser:
        """Normalisation statistics from the train split only; default: all observed values per channel."""
        return Normaliser.fit(train.values, train.channel_names)

    def generation_times(self, train_times: np.ndarray) -> np.ndarray:
        """The grid generators sample on: the common train grid if all train paths share one, else a uniform grid
        of the same length over the mean train time span, its step rounded to 8 significant bits so that every
        grid point is exact in float32 and the step divides every interval exactly (fixed-step solvers need it)."""
        if np.all(train_times == train_times[:1]):
            return train_times[0]
        length = train_times.shape[1]
        step = _round_to_significant_bits((train_times[:, -1].mean() - train_times[:, 0].mean()) / (length - 1), 8)
        start = round(train_times[:, 0].mean() / step) * step
        return start + step * np.arange(length)

    # ------------------------------------------------------------------------------------------------ Lightning API
    def setup(self, stage: str | None = None) -> None:
        """Load, validate, split and normalise (idempotent; deterministic given ``seed``)."""
        if self._is_set_up:
            return
        raw = self.load_raw()
        validate_paths(raw, self.description)
        train_index, val_index, test_index = split_indices(
            len(raw.times), self.val_fraction, self.test_fraction, self.seed, raw.groups
        )
        train = _subset(raw, train_index)
        self.normaliser = self.fit_normaliser(train)
        self.channel_names = list(raw.channel_names)
        self.num_channels = len(self.channel_names)
        self.train_paths = self._to_paths(train)
        self.val_paths = self._to_paths(_subset(raw, val_index))
        self.test_paths = self._to_paths(_subset(raw, test_index))
        self.times = torch.as_tensor(self.generation_times(train.times), dtype=torch.float32)
        grid = self.times.double().numpy()
        self.dt = float(np.min(np.diff(grid)))
        ratios = np.diff(grid) / self.dt
        if np.any(np.abs(ratios - np.round(ratios)) > 1e-7 * np.maximum(1.0, ratios)):
            warnings.warn(
                f"{self.description}: the smallest spacing dt={self.dt} of the time grid does not divide all its "
                "intervals exactly in float32, which fixed-step solvers need; rescale time (e.g. the csv dataset's "
                "time_scale) so that the grid is whole numbers",
                stacklevel=2,
            )
        self._is_set_up = True

    def _to_paths(self, raw: RawPaths) -> torch.Tensor:
        paths = np.concatenate([raw.times[..., None], raw.values], axis=-1)
        return self.normaliser.transform(torch.as_tensor(paths, dtype=torch.float64)).to(torch.float32)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if not self._is_set_up:
            raise RuntimeError(f"{type(self).__name__}.setup() must be called before asking for dataloaders")
        paths = getattr(self, f"{split}_paths")
        generator = torch.Generator().manual_seed(self.seed) if shuffle else None
        return DataLoader(
            paths,
            batch_size=self.batch_size,
            shuffle=shuffle,
            generator=generator,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled (seeded) batches of train paths."""
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """Batches of validation paths in a fixed order."""
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """Batches of test paths in a fixed order."""
        return self._loader("test", shuffle=False)

    def state_dict(self) -> dict:
        """Normalisation statistics, saved into Lightning checkpoints for reference."""
        return {"normaliser": self.normaliser.state_dict()} if self._is_set_up else {}


def _round_to_significant_bits(value: float, bits: int) -> float:
    scale = 2.0 ** (math.floor(math.log2(value)) - bits + 1)
    return round(value / scale) * scale


def _subset(raw: RawPaths, index: np.ndarray) -> RawPaths:
    groups = None if raw.groups is None else raw.groups[index]
    return RawPaths(raw.times[index], raw.values[index], list(raw.channel_names), groups)

"""`PathDataModule`: the one LightningDataModule every dataset goes through (docs/architecture.md)."""

from __future__ import annotations

import abc
import math
import warnings
from typing import TypedDict

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from sdegan.data.normaliser import Normaliser
from sdegan.data.raw import RawPaths, split_indices, validate_paths
from sdegan.data.sampler import ResumableDataLoader, ResumableShuffleSampler
from sdegan.errors import DataError
from sdegan.paths import fill_missing


class DataModuleOptions(TypedDict, total=False):
    """The constructor arguments every dataset shares, held by :class:`PathDataModule`; a dataset's constructor
    takes its own arguments and passes these on (``**options: Unpack[DataModuleOptions]``)."""

    batch_size: int
    seed: int
    val_fraction: float
    test_fraction: float
    num_workers: int


class PathDataModule(pl.LightningDataModule, abc.ABC):
    """Splits, normalises and serves paths ``(batch, length, 1 + channels)``: channel 0 time, NaN = missing.

    Subclasses implement :meth:`load_raw` (paths in original units). After :meth:`setup` the module exposes
    ``num_channels``, ``channel_names``, ``times`` (the regular generation grid: what models sample on when
    no observation times are given), ``dt`` (a suggested solver step: the smallest spacing of ``times``),
    ``train_paths``, ``val_paths``, ``test_paths`` (normalised with train-split statistics only; each path
    keeps its own observation times in channel 0) and ``normaliser``.

    Arguments (:class:`DataModuleOptions`, shared by every dataset):
        batch_size: paths per batch for every dataloader (default: the class's ``default_batch_size``).
        seed: seeds the data (where generated), the split and the train shuffling.
        val_fraction: fraction of paths in the validation split (0 < f < 1).
        test_fraction: fraction of paths in the test split (0 < f < 1).
        num_workers: dataloader worker processes.
    """

    #: ``batch_size`` when none is given.
    default_batch_size: int = 256

    def __init__(
        self,
        *,
        batch_size: int | None = None,
        seed: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        batch_size = self.default_batch_size if batch_size is None else batch_size
        if not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise DataError(f"num_workers must be a non-negative integer, got {num_workers!r}")
        if not isinstance(seed, int) or seed < 0:
            raise DataError(f"seed must be a non-negative integer, got {seed!r}")
        self.batch_size = batch_size
        self.seed = seed
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.num_workers = num_workers
        self._is_set_up = False
        self._filled_train_paths: torch.Tensor | None = None

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

    def _split(self, split: str) -> torch.Tensor:
        if not self._is_set_up:
            raise RuntimeError(f"{type(self).__name__}.setup() must be called before asking for dataloaders")
        return getattr(self, f"{split}_paths")

    def _loader_options(self) -> dict:
        return {"batch_size": self.batch_size, "num_workers": self.num_workers,
                "persistent_workers": self.num_workers > 0}

    def _replicas(self) -> tuple[int, int]:
        """(number of processes sharing the train set, this one's rank) under the attached trainer."""
        kwargs = self.trainer.distributed_sampler_kwargs if self.trainer is not None else None
        return (kwargs["num_replicas"], kwargs["rank"]) if kwargs else (1, 0)

    def train_dataloader(self) -> DataLoader:
        """Batches of train paths in a new order every epoch, fixed by (``seed``, epoch); under DDP each process
        takes its share of that order. A fit resumed from a checkpoint written mid-epoch serves the rest of the
        epoch exactly (a :class:`~sdegan.data.sampler.ResumableDataLoader`). Under Lightning's debugging mode
        ``overfit_batches`` the paths come in their stored order, the same first batches every epoch. A module
        that declares ``TAKES_FILLED_TRAIN_PATHS`` gets them with their missing values filled once for the split
        (:meth:`filled_train_paths`)."""
        paths = self._train_paths_for_module()
        if self.trainer is not None and self.trainer.overfit_batches > 0:
            return DataLoader(paths, **self._loader_options())
        num_replicas, rank = self._replicas()
        sampler = ResumableShuffleSampler(paths, seed=self.seed, num_replicas=num_replicas, rank=rank)
        # Its own generator: otherwise every new iterator would draw its worker seed from the global generator,
        # which the models' noise uses, and a resumed run would not continue the same random streams.
        generator = torch.Generator().manual_seed(self.seed)
        return ResumableDataLoader(paths, sampler=sampler, generator=generator, **self._loader_options())

    def filled_train_paths(self) -> torch.Tensor:
        """``train_paths`` with their missing values filled (:func:`sdegan.paths.fill_missing`: what the
        SDE-GAN's discriminator reads), computed once and kept: the data never changes, so filling every batch
        again would only repeat the work."""
        if self._filled_train_paths is None:
            self._filled_train_paths = fill_missing(self._split("train"))
        return self._filled_train_paths

    def _train_paths_for_module(self) -> torch.Tensor:
        """The train paths the attached module's training steps get: filled once (:meth:`filled_train_paths`)
        for a module that declares it reads them only through ``fill_missing`` (``TAKES_FILLED_TRAIN_PATHS``),
        else as stored, NaN marking what is missing."""
        module = getattr(self.trainer, "lightning_module", None)
        if getattr(module, "TAKES_FILLED_TRAIN_PATHS", False):
            return self.filled_train_paths()
        return self._split("train")

    def val_dataloader(self) -> DataLoader:
        """Batches of validation paths in a fixed order."""
        return DataLoader(self._split("val"), **self._loader_options())

    def test_dataloader(self) -> DataLoader:
        """Batches of test paths in a fixed order."""
        return DataLoader(self._split("test"), **self._loader_options())

    def state_dict(self) -> dict:
        """Normalisation statistics, saved into Lightning checkpoints for reference."""
        return {"normaliser": self.normaliser.state_dict()} if self._is_set_up else {}


def _round_to_significant_bits(value: float, bits: int) -> float:
    scale = 2.0 ** (math.floor(math.log2(value)) - bits + 1)
    return round(value / scale) * scale


def _subset(raw: RawPaths, index: np.ndarray) -> RawPaths:
    groups = None if raw.groups is None else raw.groups[index]
    return RawPaths(raw.times[index], raw.values[index], list(raw.channel_names), groups)

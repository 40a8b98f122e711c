"""Train-set shuffling that a run resumed from a mid-epoch checkpoint continues exactly.

:class:`ResumableShuffleSampler` draws each epoch's order from ``(seed, epoch)`` alone and can start an epoch
part-way; :class:`ResumableDataLoader` counts the samples it has handed out and gives that position to Lightning,
which stores ``state_dict()`` of stateful train dataloaders in checkpoints and calls ``load_state_dict()`` before
iterating again when a fit resumes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from sdegan.errors import DataError

__all__ = ["ResumableDataLoader", "ResumableShuffleSampler"]


def epoch_permutation(size: int, seed: int, epoch: int) -> list[int]:
    """A permutation of ``range(size)`` determined by ``(seed, epoch)`` alone.

    The generator's seed mixes both numbers (numpy's ``SeedSequence``), so that unlike ``seed + epoch`` two runs
    with neighbouring seeds do not see the same orders one epoch apart.
    """
    mixed = int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0])
    return torch.randperm(size, generator=torch.Generator().manual_seed(mixed)).tolist()


class ResumableShuffleSampler(DistributedSampler):
    """Indices of ``dataset`` in a fresh random order every epoch, optionally starting part-way through an epoch.

    The order of epoch ``e`` is :func:`epoch_permutation` ``(len(dataset), seed, e)``. With ``num_replicas > 1``
    it is padded by repetition to a multiple of ``num_replicas`` and replica ``rank`` takes every
    ``num_replicas``-th index from position ``rank``, so the replicas share out one permutation (as
    :class:`~torch.utils.data.DistributedSampler`, which this subclasses so that Lightning keeps it under DDP
    instead of wrapping it). ``len()`` is always the full per-replica epoch.

    :meth:`set_epoch` selects the epoch (Lightning calls it at every epoch start); iterating again without it
    repeats the epoch. :meth:`resume` makes the next iteration skip the indices already served.

    Arguments:
        dataset: anything with a length; only its length is used.
        seed: seeds every epoch's permutation (non-negative).
        num_replicas: number of processes sharing the data.
        rank: this process's index, ``0 <= rank < num_replicas``.
    """

    def __init__(self, dataset: Sized, *, seed: int, num_replicas: int = 1, rank: int = 0) -> None:
        if not isinstance(seed, int) or seed < 0:
            raise DataError(f"seed must be a non-negative integer, got {seed!r}")
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise DataError(f"num_replicas must be a positive integer, got {num_replicas!r}")
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=False)
        self._start = 0

    @property
    def next_start(self) -> int:
        """Position in this replica's epoch order where the next iteration begins."""
        return self._start

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order from now on; a resume position saved for another epoch is dropped."""
        if epoch != self.epoch:
            self._start = 0
        super().set_epoch(epoch)

    def resume(self, epoch: int, position: int) -> None:
        """Make the next iteration serve epoch ``epoch`` from ``position`` (indices of this replica already served).

        ``position == len(self)`` means that the epoch was complete: the next iteration is epoch ``epoch + 1`` from
        its start. Only that next iteration skips; later ones serve whole epochs.
        """
        if not isinstance(epoch, int) or epoch < 0:
            raise DataError(f"epoch must be a non-negative integer, got {epoch!r}")
        if not isinstance(position, int) or not 0 <= position <= self.num_samples:
            raise DataError(
                f"position must be an integer in [0, {self.num_samples}] (the samples per epoch of this replica), "
                f"got {position!r}; was the checkpoint written for another dataset size or number of processes?"
            )
        if position == self.num_samples:
            epoch, position = epoch + 1, 0
        super().set_epoch(epoch)
        self._start = position

    def epoch_order(self) -> list[int]:
        """This replica's full order of indices for the current epoch."""
        order = epoch_permutation(len(self.dataset), self.seed, self.epoch)
        if order:
            order = (order * math.ceil(self.total_size / len(order)))[: self.total_size]
        return order[self.rank : self.total_size : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        order = self.epoch_order()[self._start :]
        self._start = 0
        return iter(order)


class ResumableDataLoader(DataLoader):
    """A :class:`~torch.utils.data.DataLoader` over a :class:`ResumableShuffleSampler` whose position in the epoch
    Lightning checkpoints and restores.

    The position counts the samples of the batches this loader has handed out, not the indices drawn from the
    sampler, so neither worker processes nor a consumer fetching ahead can make it run early. (Lightning's fetcher
    does not fetch ahead when the loader has a length, as this one has, so a checkpoint written after training
    step ``k`` of an epoch records exactly ``k`` batches.)

    Arguments:
        dataset: the samples.
        sampler: the resumable sampler over ``dataset``.
        batch_size: samples per batch.
        **kwargs: further :class:`~torch.utils.data.DataLoader` arguments (not ``shuffle`` or ``batch_sampler``).
    """

    def __init__(self, dataset: Any, *, sampler: ResumableShuffleSampler, batch_size: int, **kwargs: Any) -> None:
        if not isinstance(sampler, ResumableShuffleSampler):
            raise TypeError(f"ResumableDataLoader needs a ResumableShuffleSampler, got {type(sampler).__name__}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
        super().__init__(dataset, sampler=sampler, batch_size=batch_size, **kwargs)
        self._epoch = sampler.epoch
        self._position = sampler.next_start

    def __iter__(self) -> Iterator[Any]:
        # A generator: nothing runs until the first batch is asked for, after Lightning's ``set_epoch``.
        sampler = self.sampler
        self._epoch, self._position = sampler.epoch, sampler.next_start
        for batch in super().__iter__():
            self._position = min(self._position + self.batch_size, len(sampler))
            yield batch

    def state_dict(self) -> dict[str, int]:
        """The epoch of the current (or last) iteration and the samples of it handed out so far."""
        return {"epoch": self._epoch, "position": self._position}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """Continue from a :meth:`state_dict`: the next iteration serves the rest of that epoch."""
        missing = {"epoch", "position"} - set(state_dict)
        if missing:
            raise DataError(f"dataloader state lacks {sorted(missing)}; expected keys 'epoch' and 'position'")
        self.sampler.resume(int(state_dict["epoch"]), int(state_dict["position"]))
        self._epoch, self._position = self.sampler.epoch, self.sampler.next_start

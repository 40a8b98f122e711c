"""Resumable train shuffling: per-(seed, epoch) orders, replicas, restarting mid-epoch, the loader's position."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils.data import SequentialSampler

from sdegan.data.sampler import ResumableDataLoader, ResumableShuffleSampler, epoch_permutation
from tests.data.test_datamodule import ArrayDataModule, random_raw


def _epoch(sampler: ResumableShuffleSampler, epoch: int) -> list[int]:
    sampler.set_epoch(epoch)
    return list(sampler)


def test_each_epoch_is_a_permutation_fixed_by_seed_and_epoch_alone():
    sampler = ResumableShuffleSampler(range(20), seed=3)
    epochs = [_epoch(sampler, e) for e in range(3)]
    assert all(sorted(order) == list(range(20)) for order in epochs)
    assert len({tuple(order) for order in epochs}) == 3
    assert list(sampler) == epochs[2]  # iterating again without set_epoch repeats the epoch
    fresh = ResumableShuffleSampler(range(20), seed=3)
    assert _epoch(fresh, 2) == epochs[2]  # no dependence on the epochs iterated before
    assert _epoch(ResumableShuffleSampler(range(20), seed=4), 0) != epochs[0]
    # seeds are mixed, not added: seed 4 epoch 0 is not seed 3 epoch 1
    assert epoch_permutation(20, 4, 0) != epoch_permutation(20, 3, 1)


def test_replicas_share_out_one_padded_permutation():
    samplers = [ResumableShuffleSampler(range(10), seed=0, num_replicas=3, rank=r) for r in range(3)]
    orders = [_epoch(s, 1) for s in samplers]
    assert [len(s) for s in samplers] == [4, 4, 4] and [len(o) for o in orders] == [4, 4, 4]
    permutation = epoch_permutation(10, 0, 1)
    padded = permutation + permutation[:2]
    assert [padded[i] for i in range(12)] == [orders[i % 3][i // 3] for i in range(12)]
    with pytest.raises(ValueError, match="rank"):
        ResumableShuffleSampler(range(10), seed=0, num_replicas=2, rank=2)


def test_resume_skips_what_was_served_once_and_only_for_its_epoch():
    sampler = ResumableShuffleSampler(range(12), seed=1)
    full = [_epoch(sampler, e) for e in range(3)]
    sampler.resume(epoch=1, position=5)
    sampler.set_epoch(1)  # Lightning calls this after restoring; same epoch keeps the position
    assert (sampler.epoch, sampler.next_start) == (1, 5)
    assert list(sampler) == full[1][5:]
    assert list(sampler) == full[1]  # later iterations serve whole epochs
    sampler.resume(epoch=1, position=5)
    assert _epoch(sampler, 2) == full[2]  # a position for another epoch is dropped
    sampler.resume(epoch=0, position=12)  # a complete epoch: continue with the next one
    assert (sampler.epoch, list(sampler)) == (1, full[1])
    for bad in (-1, 13):
        with pytest.raises(ValueError, match=r"position must be an integer in \[0, 12\]"):
            sampler.resume(epoch=0, position=bad)


def _loader(num_samples=20, batch_size=3, **kwargs) -> ResumableDataLoader:
    data = torch.arange(num_samples, dtype=torch.float64)
    return ResumableDataLoader(data, sampler=ResumableShuffleSampler(data, seed=7), batch_size=batch_size, **kwargs)


@pytest.mark.parametrize("num_workers", [0, 1])
def test_loader_state_counts_batches_handed_out_and_resumes_the_rest(num_workers):
    # With a worker the sampler runs ahead of the batches handed out (prefetching); the position must not.
    original = _loader(num_workers=num_workers)
    original.sampler.set_epoch(2)
    iterator = iter(original)
    seen = [next(iterator) for _ in range(3)]
    state = original.state_dict()
    assert state == {"epoch": 2, "position": 9}
    rest = list(iterator)
    assert len(seen) + len(rest) == len(original) == 7
    resumed = _loader(num_workers=num_workers)
    resumed.load_state_dict(state)
    assert len(resumed) == 7  # Lightning expects the full epoch length and counts the batches already seen
    assert resumed.state_dict() == state
    resumed_rest = list(resumed)
    assert len(resumed_rest) == len(rest)
    assert all(torch.equal(a, b) for a, b in zip(resumed_rest, rest))
    assert resumed.state_dict() == {"epoch": 2, "position": 20}  # last batch is short: 9 + 3 * 3 + 2


def test_loader_state_at_the_end_of_an_epoch_resumes_with_the_next_epoch():
    original = _loader()
    first_epoch = list(original)
    original.sampler.set_epoch(1)
    second_epoch = list(original)
    resumed = _loader()
    resumed.load_state_dict({"epoch": 0, "position": 20})
    assert resumed.state_dict() == {"epoch": 1, "position": 0}
    resumed.sampler.set_epoch(1)
    assert all(torch.equal(a, b) for a, b in zip(list(resumed), second_epoch, strict=True))
    assert not torch.equal(torch.cat(first_epoch), torch.cat(second_epoch))


def test_loader_rejects_other_samplers_and_incomplete_states():
    data = torch.zeros(5)
    with pytest.raises(TypeError, match="ResumableShuffleSampler"):
        ResumableDataLoader(data, sampler=SequentialSampler(data), batch_size=2)
    with pytest.raises(ValueError, match="position"):
        _loader().load_state_dict({"epoch": 0})


def _set_up_module(**kwargs) -> ArrayDataModule:
    module = ArrayDataModule(random_raw(num_paths=50), batch_size=8, seed=1, **kwargs)
    module.setup()
    return module


def test_datamodule_train_loader_is_resumable_and_leaves_the_global_generator_alone():
    module = _set_up_module()
    loader = module.train_dataloader()
    assert isinstance(loader, ResumableDataLoader) and loader.sampler.num_replicas == 1
    state = torch.get_rng_state()
    epochs = []
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)
        epochs.append(torch.cat(list(loader)))
    assert torch.equal(torch.get_rng_state(), state)  # the models' random streams are not consumed
    order = epoch_permutation(len(module.train_paths), 1, 1)
    assert np.array_equal(epochs[1].numpy(), module.train_paths[order].numpy(), equal_nan=True)
    assert not np.array_equal(epochs[0].numpy(), epochs[1].numpy(), equal_nan=True)


def test_datamodule_shares_the_train_set_out_among_distributed_processes():
    module = _set_up_module()
    shares = []
    for rank in range(2):
        module.trainer = SimpleNamespace(distributed_sampler_kwargs={"num_replicas": 2, "rank": rank}, overfit_batches=0)
        loader = module.train_dataloader()
        assert (loader.sampler.num_replicas, loader.sampler.rank) == (2, rank)
        shares.append(list(itertools.chain.from_iterable(loader.batch_sampler)))
    assert sorted(shares[0] + shares[1]) == list(range(len(module.train_paths)))


def test_datamodule_serves_stored_order_when_lightning_overfits_batches():
    module = _set_up_module()
    module.trainer = SimpleNamespace(distributed_sampler_kwargs=None, overfit_batches=2)
    loader = module.train_dataloader()
    assert not isinstance(loader, ResumableDataLoader)
    assert np.array_equal(torch.cat(list(loader)).numpy(), module.train_paths.numpy(), equal_nan=True)

"""The weights dataset: real SGD, deterministic given the seed, cached on disk."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from sdegan.data import WeightsDataModule, generate_weight_trajectories
from sdegan.data import weights as weights_module
from sdegan.data.weights import sgd_step
from tests.data.fixtures import identical

TINY = {"num_paths": 24, "length": 6, "record_every": 3, "hidden_width": 3, "batch_size": 8}


def test_sgd_step_matches_autograd():
    rng = np.random.default_rng(0)
    runs, width, batch = 5, 3, 4
    parameters = {
        "w1": rng.standard_normal((runs, 1, width)),
        "b1": rng.standard_normal((runs, 1, width)),
        "w2": rng.standard_normal((runs, 1, width)),
        "b2": rng.standard_normal((runs, 1)),
    }
    x, y = rng.standard_normal((runs, batch)), rng.standard_normal((runs, batch))
    updated = sgd_step(parameters, x, y, learning_rate=0.1)
    for run in range(runs):
        w1, b1, w2, b2 = (torch.tensor(parameters[k][run], requires_grad=True) for k in ("w1", "b1", "w2", "b2"))
        hidden = torch.tanh(torch.tensor(x[run])[:, None] * w1 + b1)
        loss = (((hidden * w2).sum(-1) + b2 - torch.tensor(y[run])) ** 2).mean()
        loss.backward()
        for name, tensor in zip(("w1", "b1", "w2", "b2"), (w1, b1, w2, b2)):
            expected = (tensor - 0.1 * tensor.grad).detach().numpy()
            np.testing.assert_allclose(updated[name][run], expected, rtol=1e-12, atol=1e-14)


def test_training_reduces_the_loss_so_weights_do_learn():
    """Over a longer run the recorded output weights drift away from their initial spread (they learn sin)."""
    trajectories = generate_weight_trajectories(
        256, 20, record_every=10, hidden_width=4, learning_rate=0.05, sgd_batch_size=8, training_points=64, seed=0
    )
    assert trajectories.shape == (256, 20, 4)
    assert np.abs(trajectories[:, -1]).mean() > 1.3 * np.abs(trajectories[:, 0]).mean()


def test_identical_across_generations_with_the_same_seed(tmp_path):
    first = WeightsDataModule(**TINY, seed=7, cache_dir=None)
    second = WeightsDataModule(**TINY, seed=7, cache_dir=None)
    other = WeightsDataModule(**TINY, seed=8, cache_dir=None)
    for module in (first, second, other):
        module.setup()
    assert np.array_equal(first.trajectories(), second.trajectories())
    assert identical(first.train_paths, second.train_paths) and identical(first.test_paths, second.test_paths)
    assert not np.array_equal(first.trajectories(), other.trajectories())


def test_cached_after_first_generation(tmp_path, monkeypatch):
    first = WeightsDataModule(**TINY, seed=1, cache_dir=str(tmp_path / "cache"))
    first.prepare_data()
    assert first.cache_file.exists() and first.cache_file.parent == tmp_path / "cache"
    first.setup()

    def refuse(**settings):
        raise AssertionError("generated again although a cache file exists")

    monkeypatch.setattr(weights_module, "generate_weight_trajectories", refuse)
    second = WeightsDataModule(**TINY, seed=1, cache_dir=str(tmp_path / "cache"))
    second.setup()
    assert identical(first.train_paths, second.train_paths)
    different = WeightsDataModule(**{**TINY, "length": 7}, seed=1, cache_dir=str(tmp_path / "cache"))
    assert different.cache_file != first.cache_file
    with pytest.raises(AssertionError, match="generated again"):
        different.setup()


def test_path_format():
    module = WeightsDataModule(**TINY, seed=0, cache_dir=None)
    module.setup()
    assert module.num_channels == 3 and module.channel_names == [f"output_weight_{i}" for i in range(3)]
    assert module.times.tolist() == list(range(6)) and module.dt == 1.0
    assert module.train_paths.shape[1:] == (6, 4) and not torch.isnan(module.train_paths).any()
    assert len(module.train_paths) + len(module.val_paths) + len(module.test_paths) == 24
    values = module.train_paths[..., 1:].double()
    assert torch.allclose(values.mean(dim=(0, 1)), torch.zeros(3, dtype=torch.float64), atol=1e-6)


def test_divergence_is_an_error():
    with pytest.raises(ValueError, match="SGD diverged"):
        generate_weight_trajectories(
            4, 30, record_every=10, hidden_width=3, learning_rate=50.0, sgd_batch_size=4, training_points=16, seed=0
        )


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="hidden_width must be a positive integer"):
        generate_weight_trajectories(
            4, 5, record_every=1, hidden_width=0, learning_rate=0.1, sgd_batch_size=4, training_points=16, seed=0
        )


@pytest.mark.slow
def test_default_size_generates_within_a_minute(tmp_path):
    start = time.perf_counter()
    module = WeightsDataModule(seed=0, cache_dir=str(tmp_path))
    module.setup()
    assert time.perf_counter() - start < 60.0
    assert module.train_paths.shape == (6554, 64, 5) and module.cache_file.exists()

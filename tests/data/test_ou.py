"""The time-dependent OU dataset: REFERENCE.md section 7, statistics against the closed-form moments."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sdegan.data import OUDataModule, simulate_time_dependent_ou
from sdegan.data.ou import drop_entries
from sdegan.data.raw import STREAM_DATA, seeded_rng, split_indices
from tests.data.fixtures import identical

MU, THETA, SIGMA, LENGTH = 0.02, 0.1, 0.4, 64


def ou_mean(t: float) -> float:
    """E[Y_t] for dY = (mu t - theta Y) dt + ..., E[Y_0] = 0: solves m' = mu t - theta m."""
    return MU / THETA * (t - (1.0 - math.exp(-THETA * t)) / THETA)


def ou_variance(t: float) -> float:
    """Var[Y_t] = e^{-2 theta t} / 3 + int_0^t e^{-2 theta (t - s)} (2 sigma s / 64)^2 ds (Var U(-1, 1) = 1/3)."""
    a, c = 2.0 * THETA, 2.0 * SIGMA / LENGTH
    integral = t**2 / a - 2.0 * t / a**2 + 2.0 / a**3 - 2.0 * math.exp(-a * t) / a**3
    return math.exp(-a * t) / 3.0 + c**2 * integral


def euler_maruyama_moments(t: int, dt: float = 0.1) -> tuple[float, float]:
    """Exact mean and variance of the Euler-Maruyama scheme at step dt (a linear recursion for this SDE)."""
    mean, variance = 0.0, 1.0 / 3.0
    for step in range(round(t / dt)):
        s = step * dt
        mean = (1.0 - THETA * dt) * mean + MU * s * dt
        variance = (1.0 - THETA * dt) ** 2 * variance + (2.0 * SIGMA * s / LENGTH) ** 2 * dt
    return mean, variance


@pytest.mark.parametrize("t", [0, 8, 32, 63])
def test_simulated_moments_match_closed_form(t):
    num_paths = 8192
    times, values = simulate_time_dependent_ou(num_paths, LENGTH, rng=seeded_rng(11, STREAM_DATA))
    assert times.tolist() == list(range(LENGTH))
    sample = values[:, t]
    mean, variance = ou_mean(t), ou_variance(t)
    scheme_mean, scheme_variance = euler_maruyama_moments(t)
    # Tolerance: 4.5 standard errors (false alarm ~1e-5 per check) plus the scheme's own discretisation bias
    # at dt = 0.1, computed exactly from its moment recursion (at most 0.004 in the mean, 0.9% in the variance).
    mean_bias, variance_bias = abs(scheme_mean - mean), abs(scheme_variance - variance)
    assert mean_bias < 0.005 and variance_bias < 0.01 * variance
    assert abs(sample.mean() - mean) < 4.5 * math.sqrt(variance / num_paths) + mean_bias
    fourth = np.mean((sample - sample.mean()) ** 4)
    variance_error = math.sqrt((fourth - sample.var() ** 2) / num_paths)
    assert abs(sample.var(ddof=1) - variance) < 4.5 * variance_error + variance_bias


def test_simulation_detects_a_wrong_drift():
    """The moment test has power: a 10% larger theta gives a mean at t = 63 far outside the tolerance."""
    _, values = simulate_time_dependent_ou(8192, LENGTH, theta=0.11, rng=seeded_rng(11, STREAM_DATA))
    standard_error = math.sqrt(ou_variance(63) / 8192)
    assert abs(values[:, 63].mean() - ou_mean(63)) > 10 * standard_error


def test_drop_entries_removes_exactly_the_fraction():
    values = np.ones((100, 64))
    dropped = drop_entries(values, 0.3, np.random.default_rng(0))
    assert np.isnan(dropped).sum() == int(0.3 * values.size) and not np.isnan(values).any()
    with pytest.raises(ValueError, match=r"missing_fraction must lie in \[0, 1\)"):
        drop_entries(values, 1.0, np.random.default_rng(0))


def test_datamodule_matches_the_reference_recipe():
    module = OUDataModule(num_paths=1000, batch_size=64, seed=5)
    module.setup()
    assert module.num_channels == 1 and module.dt == 1.0
    assert module.times.tolist() == list(range(64))
    everything = torch.cat([module.train_paths, module.val_paths, module.test_paths])
    assert everything.shape == (1000, 64, 2)
    assert torch.equal(everything[..., 0], torch.arange(64.0).expand(1000, 64))
    assert torch.isnan(everything[..., 1]).sum().item() == int(0.3 * 1000 * 64)
    # normalised by the observed t = 0 values of the train split: those are exactly standardised
    start = module.train_paths[:, 0, 1].double()
    start = start[~start.isnan()]
    assert abs(start.mean().item()) < 1e-6 and abs(start.std().item() - 1.0) < 1e-6
    # and the statistics are those of the raw train t = 0 values, not of the test split
    _, raw = simulate_time_dependent_ou(1000, 64, rng=seeded_rng(5, STREAM_DATA))
    train_index, _, _ = split_indices(1000, 0.1, 0.1, seed=5)
    restored = module.normaliser.inverse_transform(module.train_paths.double())[..., 1]
    observed = ~restored.isnan()
    np.testing.assert_allclose(restored[observed].numpy(), raw[train_index][observed.numpy()], atol=1e-5)


def test_normalisation_ignores_the_test_split(monkeypatch):
    module = OUDataModule(num_paths=500, batch_size=64, seed=2)
    module.setup()
    raw = OUDataModule(num_paths=500, batch_size=64, seed=2).load_raw()
    _, _, test_index = split_indices(500, 0.1, 0.1, seed=2)
    raw.values[test_index] = 1e3
    corrupted = OUDataModule(num_paths=500, batch_size=64, seed=2)
    monkeypatch.setattr(corrupted, "load_raw", lambda: raw)
    corrupted.setup()
    assert corrupted.normaliser.mean.tolist() == module.normaliser.mean.tolist()
    assert corrupted.normaliser.std.tolist() == module.normaliser.std.tolist()
    assert not identical(corrupted.test_paths, module.test_paths)


def test_same_seed_same_data_other_seed_other_data():
    first, second, other = (OUDataModule(num_paths=200, length=16, batch_size=32, seed=s) for s in (3, 3, 4))
    for module in (first, second, other):
        module.setup()
    assert identical(first.train_paths, second.train_paths) and identical(first.test_paths, second.test_paths)
    assert not identical(first.train_paths, other.train_paths)


def test_size_length_and_missing_fraction_are_configurable():
    module = OUDataModule(num_paths=100, length=10, missing_fraction=0.0, batch_size=16, seed=0)
    module.setup()
    assert module.train_paths.shape == (80, 10, 2) and not torch.isnan(module.train_paths).any()
    assert module.times.tolist() == list(range(10))


def test_all_missing_paths_are_an_error():
    module = OUDataModule(num_paths=50, length=2, missing_fraction=0.9, batch_size=16, seed=0)
    with pytest.raises(ValueError, match=r"paths have no observed values at all \(all NaN\)"):
        module.setup()


def test_bad_simulation_step_is_rejected():
    with pytest.raises(ValueError, match="simulation_dt must divide"):
        simulate_time_dependent_ou(10, 5, simulation_dt=0.3, rng=np.random.default_rng(0))

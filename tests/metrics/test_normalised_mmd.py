"""The headline MMD: the normalised signature kernel is bounded, scale-free, finite for huge paths,
~0 for equal laws and clearly larger for different ones (its unbiasedness is tested with the raw
kernel's in test_signature_mmd.py)."""

import math

import pytest
import torch

from sdegan.metrics import normalised_signature_features, path_signatures, signature_mmd
from sdegan.metrics.signature_mmd import auto_scale
from tests.metrics.simulated_ou import ou_paths


def lower_bound(m, n):
    """The unbiased estimate on unit features is at least -(1/(m-1) + 1/(n-1)) (docs/metrics.md)."""
    return -(1 / (m - 1) + 1 / (n - 1))


@pytest.mark.parametrize("backend", ["signatory", "pysiglib"])
def test_features_are_the_normalised_signature_with_its_level_zero_term(backend):
    x = ou_paths(50, 20, seed=0, channels=2, missing_fraction=0.2)
    scale = auto_scale(x)
    features = normalised_signature_features(x, depth=4, scale=scale, backend=backend)
    signatures = path_signatures(x, depth=4, scale=scale, backend=backend)
    phi = torch.cat([torch.ones(len(x), 1, dtype=torch.float64), signatures], dim=1)
    torch.testing.assert_close(features, phi / phi.norm(dim=1, keepdim=True), rtol=1e-12, atol=1e-13)
    # so <F(x), F(y)> = k(x, y) / sqrt(k(x, x) k(y, y)) for the truncated signature kernel k
    kernel = phi @ phi.T
    normalised = kernel / (kernel.diagonal().sqrt().outer(kernel.diagonal().sqrt()))
    torch.testing.assert_close(features @ features.T, normalised, rtol=1e-12, atol=1e-12)


def test_equal_laws_score_near_the_real_vs_real_value_and_other_laws_clearly_higher():
    real = ou_paths(512, 32, seed=0)
    same = ou_paths(512, 32, seed=1)
    real_halves = signature_mmd(real[:256], real[256:])
    same_law = signature_mmd(real, same)
    others = {"level": ou_paths(512, 32, seed=2, level=1.0),
              "theta": ou_paths(512, 32, seed=3, theta=0.05),
              "sigma": ou_paths(512, 32, seed=4, sigma=0.8)}
    different = {name: signature_mmd(real, paths) for name, paths in others.items()}
    assert abs(same_law) < 0.01 and abs(real_halves) < 0.01
    for name, value in different.items():
        assert value > 10 * max(abs(same_law), abs(real_halves), 1e-3), (name, value, same_law)


@pytest.mark.parametrize("factor", [1.0, 1e3, 1e30, 1e100, 1e300])
def test_within_its_bounds_and_finite_for_huge_values(factor):
    real = ou_paths(64, 16, seed=0, missing_fraction=0.2)
    fake = ou_paths(48, 16, seed=1, level=0.5)
    fake[..., 1:] *= factor
    value = signature_mmd(real, fake)
    assert math.isfinite(value)
    assert lower_bound(64, 48) <= value <= 4.0
    assert signature_mmd(fake, real) <= 4.0  # huge reference sample: finite as well
    if factor >= 1e30:  # the raw kernel is astronomically large or overflows; the bounded one saturates
        raw = signature_mmd(real, fake, kernel="linear")
        assert not math.isfinite(raw) or raw > 1e100
        assert value == pytest.approx(signature_mmd(real, fake * torch.tensor([1.0, 10.0])), rel=1e-6)


def test_bounds_hold_in_extreme_configurations():
    generator = torch.Generator().manual_seed(0)
    times = torch.arange(8.0, dtype=torch.float64).expand(30, 8).unsqueeze(-1)
    cases = []
    for _ in range(20):
        values = torch.randn(60, 8, 2, generator=generator, dtype=torch.float64)
        values *= 10.0 ** torch.randint(-8, 9, (60, 1, 1), generator=generator)
        paths = torch.cat([torch.cat([times, times]), values], dim=-1)
        cases.append((paths[:30], paths[30:]))
    # a sample of one path repeated against another: the kernel's largest separations
    up = torch.cat([times, torch.linspace(0, 1e6, 8, dtype=torch.float64).expand(30, 8).unsqueeze(-1)], -1)
    down = up.clone()
    down[..., 1] = 0.0
    cases.append((up, down))
    for x, y in cases:
        value = signature_mmd(x, y, scale=1.0)
        assert lower_bound(len(x), len(y)) <= value <= 4.0
    assert signature_mmd(up, down, scale=1.0) > 1.0  # the bound is not vacuous


def test_scale_free_unchanged_when_the_data_are_multiplied_by_a_million():
    real = ou_paths(128, 24, seed=0, missing_fraction=0.2)
    fake = ou_paths(128, 24, seed=1, sigma=0.8)
    reference = signature_mmd(real, fake)
    values_only = torch.tensor([1.0, 1e6], dtype=torch.float64)
    assert signature_mmd(real * values_only, fake * values_only) == pytest.approx(reference, rel=1e-9)
    assert signature_mmd(real * 1e6, fake * 1e6) == pytest.approx(reference, rel=1e-9)  # time too
    assert signature_mmd(real * 1e-6, fake * 1e-6) == pytest.approx(reference, rel=1e-9)

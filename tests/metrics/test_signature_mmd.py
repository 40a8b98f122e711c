"""Signature MMD: signatures, the unbiased estimator, both kernels and backends, scaling, NaN, errors.

The bounded normalised kernel (the headline) has its own tests in test_normalised_mmd.py."""

import itertools
import math
import statistics

import pytest
import torch

from tests.metrics.simulated_ou import ou_paths
from sdegan.metrics import fill_missing, normalised_signature_features, path_signatures, signature_mmd
from sdegan.metrics.signature_mmd import auto_scale, unbiased_mmd2_from_features

BACKENDS = ["signatory", "pysiglib"]


def _words(dimension, depth):
    for level in range(1, depth + 1):
        yield from itertools.product(range(dimension), repeat=level)


@pytest.mark.parametrize("backend", BACKENDS)
def test_signature_of_a_straight_line_is_its_truncated_exponential(backend):
    # With basepoint, the path 0 -> a -> 3a is one straight segment of increment v = 3a, whose
    # signature word (i_1, ..., i_k) is v_{i_1} ... v_{i_k} / k!.
    a = torch.tensor([0.5, -1.25, 2.0], dtype=torch.float64)
    paths = torch.stack([a, 3 * a]).unsqueeze(0)
    paths[..., 0] = torch.tensor([0.5, 1.5])  # time channel: also on the line
    v = paths[0, -1]
    expected = torch.tensor([math.prod(v[i] for i in word) / math.factorial(len(word))
                             for word in _words(3, 4)], dtype=torch.float64)
    signatures = path_signatures(paths, depth=4, backend=backend)
    torch.testing.assert_close(signatures[0], expected, rtol=1e-12, atol=1e-12)


def test_backends_agree_to_1e_5_on_signatures_and_mmd():
    x = ou_paths(40, 20, seed=0, channels=2, missing_fraction=0.3)
    y = ou_paths(30, 17, seed=1, channels=2, level=0.5)
    for depth, scale in [(3, 1.0), (4, 0.2), (5, (0.1, 1.0, 2.0))]:
        a = path_signatures(x, depth=depth, scale=scale, backend="signatory")
        b = path_signatures(x, depth=depth, scale=scale, backend="pysiglib")
        assert a.shape == b.shape == (40, sum(3**k for k in range(1, depth + 1)))
        assert ((a - b).abs() / a.abs().clamp_min(1.0)).max() < 1e-5
        for kernel in ("normalised", "linear"):
            mmd_a = signature_mmd(x, y, kernel=kernel, depth=depth, scale=scale, backend="signatory")
            mmd_b = signature_mmd(x, y, kernel=kernel, depth=depth, scale=scale, backend="pysiglib")
            assert abs(mmd_a - mmd_b) <= 1e-5 * abs(mmd_a)


def test_unbiased_estimator_equals_the_u_statistic_over_pairs():
    generator = torch.Generator().manual_seed(0)
    fx = torch.randn(13, 7, generator=generator, dtype=torch.float64)
    fy = torch.randn(9, 7, generator=generator, dtype=torch.float64) + 0.3
    kxx, kyy, kxy = fx @ fx.T, fy @ fy.T, fx @ fy.T
    m, n = len(fx), len(fy)
    u_statistic = ((kxx.sum() - kxx.trace()) / (m * (m - 1)) + (kyy.sum() - kyy.trace()) / (n * (n - 1))
                   - 2 * kxy.mean())
    assert unbiased_mmd2_from_features(fx, fy) == pytest.approx(float(u_statistic), rel=1e-12)


@pytest.mark.parametrize("features", [path_signatures, normalised_signature_features])
def test_unbiased_estimator_has_mean_zero_for_equal_distributions_where_the_biased_one_does_not(features):
    # 200 independent pairs of samples of the same process: the unbiased estimates average to 0
    # (within 4 standard errors, false alarm ~6e-5); the biased V-statistic |mean x - mean y|^2 is
    # positive on every draw, so the test fails for an estimator that forgets the correction.
    # Both kernels: raw signatures and the normalised kernel's unit features.
    unbiased, biased = [], []
    for seed in range(200):
        fx = features(ou_paths(10, 8, seed=2 * seed), depth=3, scale=0.3)
        fy = features(ou_paths(10, 8, seed=2 * seed + 1), depth=3, scale=0.3)
        unbiased.append(unbiased_mmd2_from_features(fx, fy))
        biased.append(float((fx.mean(0) - fy.mean(0)).square().sum()))
    standard_error = statistics.stdev(unbiased) / math.sqrt(len(unbiased))
    assert abs(statistics.fmean(unbiased)) < 4 * standard_error
    assert statistics.fmean(biased) > 10 * standard_error
    assert min(unbiased) < 0 < max(unbiased)


@pytest.mark.parametrize("kernel", ["normalised", "linear"])
def test_same_process_gives_mmd_near_zero_and_shifted_process_clearly_positive(kernel):
    x = ou_paths(256, 32, seed=0)
    same = ou_paths(256, 32, seed=1)
    shifted = ou_paths(256, 32, seed=2, level=1.0)
    mmd_same = signature_mmd(x, same, kernel=kernel)
    mmd_shifted = signature_mmd(x, shifted, kernel=kernel)
    assert mmd_shifted > 0
    assert abs(mmd_same) < 0.05 * mmd_shifted
    # Permutation null: relabelling the pooled same-process sample never comes close.
    pooled = torch.cat([x, same])
    generator = torch.Generator().manual_seed(0)
    for _ in range(10):
        order = torch.randperm(len(pooled), generator=generator)
        permuted = signature_mmd(pooled[order[:256]], pooled[order[256:]], kernel=kernel)
        assert abs(permuted) < 0.05 * mmd_shifted


def test_scale_multiplies_increments():
    x = ou_paths(20, 10, seed=0)
    y = ou_paths(20, 10, seed=1, level=1.0)
    # Depth 1 features are the final point (basepoint at 0), so the raw MMD^2 scales with scale^2.
    assert signature_mmd(x, y, kernel="linear", depth=1, scale=0.3) == pytest.approx(
        0.09 * signature_mmd(x, y, kernel="linear", depth=1, scale=1.0), rel=1e-12)
    for kernel in ("normalised", "linear"):
        per_channel = signature_mmd(x, y, kernel=kernel, depth=3, scale=(0.1, 2.0))
        manual = signature_mmd(x * torch.tensor([0.1, 2.0], dtype=x.dtype),
                               y * torch.tensor([0.1, 2.0], dtype=y.dtype), kernel=kernel, depth=3,
                               scale=1.0)
        assert per_channel == pytest.approx(manual, rel=1e-12)


@pytest.mark.parametrize("kernel", ["normalised", "linear"])
def test_auto_scale_makes_the_mmd_unit_free(kernel):
    x = ou_paths(30, 10, seed=0)
    y = ou_paths(30, 10, seed=1, level=1.0)
    units = torch.tensor([63.0, 250.0], dtype=x.dtype)  # time in other units, values x250
    in_units = signature_mmd(x * units, y * units, kernel=kernel, depth=3)
    assert in_units == pytest.approx(signature_mmd(x, y, kernel=kernel, depth=3), rel=1e-9)
    # The factors come from the first (reference) sample only.
    assert signature_mmd(x, y, kernel=kernel, depth=3) == pytest.approx(
        signature_mmd(x, y, kernel=kernel, depth=3, scale=auto_scale(x)), rel=1e-12)
    assert signature_mmd(x, y, kernel=kernel, depth=3) > 0


def test_batch_size_does_not_change_the_result():
    x = ou_paths(50, 12, seed=0, missing_fraction=0.2)
    y = ou_paths(37, 12, seed=1)
    assert signature_mmd(x, y, batch_size=7) == pytest.approx(signature_mmd(x, y, batch_size=1000),
                                                              rel=1e-12)


def test_missing_values_are_filled_before_the_signature():
    x = ou_paths(30, 16, seed=0, missing_fraction=0.3)
    y = ou_paths(30, 16, seed=1)
    assert torch.isnan(x).any()
    value = signature_mmd(x, y)
    assert math.isfinite(value)
    assert value == pytest.approx(signature_mmd(fill_missing(x), y), rel=1e-12)


def test_float32_and_float64_inputs_agree():
    x = ou_paths(30, 16, seed=0)
    y = ou_paths(30, 16, seed=1, level=0.5)
    assert signature_mmd(x.float(), y.float()) == pytest.approx(signature_mmd(x, y), rel=1e-4)


@pytest.mark.parametrize(
    "y, options, message",
    [
        (ou_paths(5, 8, seed=1, channels=2), {}, "same number of channels"),
        (ou_paths(5, 8, seed=1)[0], {}, "3 dimensions"),
        (ou_paths(1, 8, seed=1), {}, "at least 2 paths"),
        (ou_paths(5, 8, seed=1), {"backend": "iisignature"}, "valid choices: signatory, pysiglib"),
        (ou_paths(5, 8, seed=1), {"depth": 0}, "depth"),
        (ou_paths(5, 8, seed=1), {"scale": -1.0}, "scale"),
        (ou_paths(5, 8, seed=1), {"scale": (1.0, 2.0, 3.0)}, "one per channel"),
        (ou_paths(5, 8, seed=1), {"batch_size": 0}, "batch_size"),
        (ou_paths(5, 8, seed=1), {"kernel": "rbf"}, "valid choices: normalised, linear"),
    ],
)
def test_bad_input_raises_clear_errors(y, options, message):
    with pytest.raises(ValueError, match=message):
        signature_mmd(ou_paths(5, 8, seed=0), y, **options)

"""The signature-kernel score: strict propriety in expectation, exact gradients, chunking, missing values."""

from __future__ import annotations

import math

import pytest
import torch

from sdegan.errors import ConfigurationError
from sdegan.models.signature_kernel_score import (
    SignatureKernel,
    signature_kernel_score,
    signature_kernel_score_terms,
)
from tests.metrics.simulated_ou import ou_paths

LENGTH = 8
KERNELS = {
    "pde_rbf": dict(backend="pysiglib", static_kernel="rbf", bandwidth=1.0),
    "pde_linear": dict(backend="pysiglib", static_kernel="linear"),
    "truncated": dict(backend="signatory", static_kernel="linear", depth=3),
}


def kernel(name: str, **overrides) -> SignatureKernel:
    return SignatureKernel(time_span=(0.0, LENGTH - 1.0), **{**KERNELS[name], **overrides})


def expected_score_difference(name: str, level: float, repeats: int = 24, batch: int = 12):
    """Mean and standard error over repeats of ``S(P, y) - S(Q, y)`` averaged over a batch ``y ~ Q``.

    ``Q`` is an OU law at level 0; ``P`` the same law shifted to ``level``. In expectation the
    difference is ``MMD(P, Q)^2``: zero for ``level = 0``, positive otherwise (strict propriety).
    """
    k = kernel(name)
    differences = []
    for repeat in range(repeats):
        real = ou_paths(batch, LENGTH, seed=3 * repeat, sigma=0.3)
        model = ou_paths(batch, LENGTH, seed=3 * repeat + 1, sigma=0.3, level=level)
        same = ou_paths(batch, LENGTH, seed=3 * repeat + 2, sigma=0.3)
        model[..., 1:] += level  # start at the level too, so the laws differ from t = 0
        difference = signature_kernel_score(model, real, k) - signature_kernel_score(same, real, k)
        differences.append(float(difference))
    values = torch.tensor(differences, dtype=torch.float64)
    return float(values.mean()), float(values.std() / math.sqrt(repeats))


@pytest.mark.parametrize("name", list(KERNELS))
def test_score_difference_is_zero_in_expectation_for_the_same_law(name):
    mean, standard_error = expected_score_difference(name, level=0.0)
    assert abs(mean) < 4 * standard_error, (mean, standard_error)


@pytest.mark.parametrize("name", list(KERNELS))
def test_score_difference_is_positive_for_a_different_law(name):
    mean, standard_error = expected_score_difference(name, level=0.5)
    assert mean > 4 * standard_error and mean > 0, (mean, standard_error)


@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("dyadic_order", [0, 1])
def test_gradient_matches_finite_differences_in_float64(name, dyadic_order):
    if dyadic_order and KERNELS[name]["backend"] != "pysiglib":
        pytest.skip("dyadic refinement is a PDE-kernel option")
    real = ou_paths(3, 4, seed=0, sigma=0.3, missing_fraction=0.3)
    real[1, 2, 1] = float("nan")  # an interior gap: the generated path 1 gets it too
    generated = ou_paths(4, 4, seed=1, sigma=0.3)
    # Small chunks, so the checkpointed path of the PDE kernel is the one being checked.
    k = kernel(name, dyadic_order=dyadic_order, max_pairs=5)

    def score(values: torch.Tensor) -> torch.Tensor:
        paths = torch.cat([generated[..., :1], values], dim=-1)
        return signature_kernel_score(paths, real, k, cross_batch_size=3)

    values = generated[..., 1:].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(score, (values,), eps=1e-6, atol=1e-6)


def test_score_does_not_depend_on_the_chunk_size():
    real = ou_paths(5, LENGTH, seed=0, sigma=0.3, missing_fraction=0.2)
    values = ou_paths(6, LENGTH, seed=1, sigma=0.3)[..., 1:].clone().requires_grad_(True)
    times = real[:1, :, :1].expand(6, -1, -1)
    results = []
    for max_pairs in (4, 10_000):
        score = signature_kernel_score(torch.cat([times, values], -1), real, kernel("pde_rbf", max_pairs=max_pairs))
        (gradient,) = torch.autograd.grad(score, values)
        results.append((score.detach(), gradient))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=1e-12, atol=1e-12)


def test_terms_are_the_u_statistic_and_the_cross_mean():
    real = ou_paths(4, LENGTH, seed=0, sigma=0.3)
    generated = ou_paths(5, LENGTH, seed=1, sigma=0.3)
    k = kernel("pde_rbf")
    self_term, cross_term = signature_kernel_score_terms(generated, real, k)
    x, y = k.prepare(generated), k.prepare(real)
    gram_xx = torch.stack([k.pairs(x, x, torch.full((5,), a), torch.arange(5)) for a in range(5)])
    gram_xy = torch.stack([k.pairs(x, y, torch.full((4,), a), torch.arange(4)) for a in range(5)])
    off_diagonal = gram_xx.sum() - gram_xx.diagonal().sum()
    torch.testing.assert_close(self_term, off_diagonal / 20)
    torch.testing.assert_close(cross_term, gram_xy.mean())
    truncated = kernel("truncated")
    features = truncated.signatures(truncated.prepare(generated))
    gram = 1 + features @ features.T
    self_truncated, _ = signature_kernel_score_terms(generated, real, truncated)
    torch.testing.assert_close(self_truncated, (gram.sum() - gram.diagonal().sum()) / 20)


def test_generated_paths_get_the_real_missing_pattern():
    complete = ou_paths(4, LENGTH, seed=0, sigma=0.3)
    real = complete.clone()
    real[0, 2:5, 1] = float("nan")
    real[3, -1, 1] = float("nan")
    k = kernel("pde_rbf")
    _, cross_term = signature_kernel_score_terms(complete, real, k)
    prepared = k.prepare(real)  # the complete paths with the real gaps are the real paths
    torch.testing.assert_close(cross_term, k.gram_mean(prepared, prepared))
    _, cross_unpatterned = signature_kernel_score_terms(complete, complete, k)
    assert not torch.isclose(cross_term, cross_unpatterned)


def test_prepared_paths_have_time_on_the_unit_interval_and_a_basepoint():
    paths = ou_paths(2, LENGTH, seed=0, missing_fraction=0.3)
    prepared = kernel("pde_rbf").prepare(paths)
    assert prepared.shape == (2, LENGTH + 1, 2)
    assert not torch.isnan(prepared).any()
    torch.testing.assert_close(prepared[:, 0], torch.zeros(2, 2, dtype=prepared.dtype))
    torch.testing.assert_close(prepared[:, -1, 0], torch.ones(2, dtype=prepared.dtype))


@pytest.mark.parametrize("options, message", [
    (dict(backend="signatory", static_kernel="rbf"), "linear static kernel only"),
    (dict(backend="esig"), "valid choices"),
    (dict(static_kernel="matern"), "valid choices"),
    (dict(bandwidth=0.0), "bandwidth"),
    (dict(dyadic_order=-1), "dyadic_order"),
    (dict(max_pairs=0), "max_pairs"),
    (dict(time_span=(1.0, 1.0)), "time_span"),
])
def test_bad_kernel_options_name_the_problem(options, message):
    with pytest.raises(ConfigurationError, match=message):
        SignatureKernel(**options)


def test_bad_batch_sizes_name_the_problem():
    paths = ou_paths(3, LENGTH, seed=0)
    with pytest.raises(ConfigurationError, match="self_batch_size"):
        signature_kernel_score(paths, paths, kernel("truncated"), self_batch_size=1)
    with pytest.raises(ConfigurationError, match="same length"):
        signature_kernel_score(paths[:, :4], paths, kernel("truncated"))

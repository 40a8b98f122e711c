"""The conditional signature-kernel score: proper per prefix, the per-prefix estimator, exact gradients."""

from __future__ import annotations

import math

import pytest
import torch

from sdegan.errors import ConfigurationError
from sdegan.models.conditional_generator import fill_missing_or_zero
from sdegan.models.signature_kernel_score import (
    SignatureKernel,
    conditional_signature_kernel_score_terms,
    signature_kernel_score_terms,
)
from tests.metrics.simulated_ou import ou_paths

LENGTH = 4  # continuation points
KERNELS = {
    "pde_rbf": dict(backend="pysiglib", static_kernel="rbf", bandwidth=1.0),
    "truncated": dict(backend="signatory", static_kernel="linear", depth=3),
}


def kernel(name: str, **overrides) -> SignatureKernel:
    return SignatureKernel(time_span=(0.0, LENGTH - 1.0), **{**KERNELS[name], **overrides})


def continuations(starts: torch.Tensor, per_start: int, seed: int) -> torch.Tensor:
    """``per_start`` OU continuations from each start value (a Markov law: the last observed value is the
    whole conditioning), rows ``j * per_start ...`` from ``starts[j]``."""
    paths = ou_paths(starts.numel() * per_start, LENGTH + 1, seed=seed, sigma=0.4)
    paths[..., 1:] += starts.repeat_interleave(per_start).view(-1, 1, 1) - paths[:, :1, 1:]
    paths = paths[:, 1:]  # after the start (the last observed value)
    return torch.cat([paths[..., :1] - 1.0, paths[..., 1:]], dim=-1)


def score(generated: torch.Tensor, real: torch.Tensor, k: SignatureKernel) -> float:
    self_term, cross_term = conditional_signature_kernel_score_terms(generated, real, k)
    return float(self_term - 2.0 * cross_term)


def expected_difference(name: str, wrong: bool, repeats: int = 24, prefixes: int = 12, m: int = 4):
    """Mean and standard error of ``S(model) - S(truth)``, each continuation law given every real prefix.

    The wrong model continues another path's prefix: its continuations have the right marginal law but
    the wrong conditional one, which only a conditional score can see.
    """
    k = kernel(name)
    differences = []
    for repeat in range(repeats):
        starts = torch.rand(prefixes, dtype=torch.float64, generator=torch.Generator().manual_seed(repeat)) * 2 - 1
        real = continuations(starts, 1, seed=4 * repeat + 1)
        model_starts = starts.roll(1) if wrong else starts
        model = continuations(model_starts, m, seed=4 * repeat + 2)
        truth = continuations(starts, m, seed=4 * repeat + 3)
        differences.append(score(model, real, k) - score(truth, real, k))
    values = torch.tensor(differences, dtype=torch.float64)
    return float(values.mean()), float(values.std() / math.sqrt(repeats))


@pytest.mark.parametrize("name", list(KERNELS))
def test_conditional_score_difference_is_zero_in_expectation_for_the_right_conditional_law(name):
    mean, standard_error = expected_difference(name, wrong=False)
    assert abs(mean) < 4 * standard_error, (mean, standard_error)


@pytest.mark.parametrize("name", list(KERNELS))
def test_conditional_score_is_larger_for_the_wrong_conditional_law_with_the_right_marginal(name):
    mean, standard_error = expected_difference(name, wrong=True)
    assert mean > 4 * standard_error and mean > 0, (mean, standard_error)


@pytest.mark.parametrize("name", list(KERNELS))
def test_terms_are_the_per_prefix_unconditional_terms_averaged(name):
    k = kernel(name, max_pairs=7)  # several chunks
    real = ou_paths(3, LENGTH, seed=0, sigma=0.3, missing_fraction=0.3)
    generated = ou_paths(3 * 5, LENGTH, seed=1, sigma=0.3)
    per_prefix = [signature_kernel_score_terms(generated[5 * j: 5 * j + 5], real[j: j + 1], k) for j in range(3)]
    expected = [torch.stack([terms[i] for terms in per_prefix]).mean() for i in range(2)]
    for value, reference in zip(conditional_signature_kernel_score_terms(generated, real, k), expected):
        torch.testing.assert_close(value, reference)


@pytest.mark.parametrize("name", list(KERNELS))
def test_gradient_matches_finite_differences_in_float64(name):
    real = ou_paths(2, LENGTH, seed=0, sigma=0.3, missing_fraction=0.3)
    real[1, 2, 1] = float("nan")  # an interior gap: the continuations of prefix 1 get it too
    generated = ou_paths(2 * 3, LENGTH, seed=1, sigma=0.3)
    k = kernel(name, max_pairs=4)  # the checkpointed chunks of the PDE kernel

    def conditional_score(values: torch.Tensor) -> torch.Tensor:
        self_term, cross_term = conditional_signature_kernel_score_terms(
            torch.cat([generated[..., :1], values], dim=-1), real, k)
        return self_term - 2.0 * cross_term

    values = generated[..., 1:].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(conditional_score, (values,), eps=1e-6, atol=1e-6)


def test_a_channel_missing_from_a_whole_slice_is_zero():
    paths = ou_paths(2, LENGTH, seed=0, channels=2)
    paths[0, :, 2] = float("nan")
    filled = fill_missing_or_zero(paths)
    assert torch.equal(filled[0, :, 2], torch.zeros(LENGTH, dtype=paths.dtype))
    assert torch.equal(filled[1], paths[1]) and torch.equal(filled[0, :, :2], paths[0, :, :2])


@pytest.mark.parametrize("shape, message", [((5, LENGTH, 2), "n \\* m"), ((2, LENGTH, 2), "at least 2")])
def test_bad_shapes_name_the_problem(shape, message):
    real = ou_paths(2, LENGTH, seed=0)
    with pytest.raises(ConfigurationError, match=message):
        conditional_signature_kernel_score_terms(torch.zeros(shape, dtype=real.dtype), real, kernel("truncated"))

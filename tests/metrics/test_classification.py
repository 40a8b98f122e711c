"""Real-vs-generated classification accuracy."""

import random

import numpy as np
import pytest
import torch

from sdegan.metrics import apply_missing_pattern, classification_accuracy
from tests.metrics.simulated_ou import ou_paths

FAST = dict(hidden_size=16, epochs=15, batch_size=64)
# 300 paths per side, 90 held out per side: accuracy has std ~0.037 under the null.


def test_same_process_gives_accuracy_near_one_half_even_with_missing_values():
    real = ou_paths(300, 32, seed=0, missing_fraction=0.3)
    fake = apply_missing_pattern(ou_paths(300, 32, seed=1), real.flip(0))
    accuracy = classification_accuracy(real, fake, seed=0, **FAST)
    assert abs(accuracy - 0.5) < 0.15  # 4 standard deviations


def test_shifted_process_gives_accuracy_near_one():
    real = ou_paths(300, 32, seed=0)
    fake = ou_paths(300, 32, seed=1, level=2.0)
    assert classification_accuracy(real, fake, seed=0, **FAST) > 0.95


def test_deterministic_given_seed_and_leaves_caller_random_state_alone():
    real = ou_paths(60, 12, seed=0)
    fake = ou_paths(80, 12, seed=1, level=0.3)
    options = dict(hidden_size=4, epochs=2, batch_size=16)
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    before = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    first = classification_accuracy(real, fake, seed=5, **options)
    assert torch.equal(torch.get_rng_state(), before[0])
    assert random.getstate() == before[1]
    assert np.array_equal(np.random.get_state()[1], before[2])
    torch.manual_seed(999)
    assert classification_accuracy(real, fake, seed=5, **options) == first
    others = {classification_accuracy(real, fake, seed=seed, **options) for seed in range(6)}
    assert len(others) > 1  # the seed matters


def _cde_available():
    try:
        from sdegan.solvers import cdeint  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _cde_available(), reason="sdegan.solvers.cdeint is not importable")
def test_neural_cde_classifier_separates_shifted_process():
    real = ou_paths(200, 16, seed=0)
    fake = ou_paths(200, 16, seed=1, level=2.0)
    accuracy = classification_accuracy(
        real, fake, seed=0, model="cde", hidden_size=8, epochs=10, batch_size=64,
        solve_options=dict(method="midpoint", gradient="direct", dt=1.0))
    assert accuracy > 0.9


@pytest.mark.skipif(not _cde_available(), reason="sdegan.solvers.cdeint is not importable")
def test_neural_cde_classifier_runs_adaptive_with_seminorm_adjoint():
    real = ou_paths(24, 6, seed=0)
    fake = ou_paths(24, 6, seed=1, level=2.0)
    accuracy = classification_accuracy(
        real, fake, seed=0, model="cde", hidden_size=4, epochs=1, batch_size=48,
        solve_options=dict(method="dopri5", gradient="adjoint", rtol=1e-2, atol=1e-3,
                           norm="seminorm"))
    assert 0.0 <= accuracy <= 1.0


@pytest.mark.parametrize(
    "fake, options, message",
    [
        (ou_paths(10, 8, seed=1, channels=2), {}, "same number of channels"),
        (ou_paths(10, 9, seed=1), {}, "same length"),
        (ou_paths(10, 8, seed=1)[..., 1], {}, "3 dimensions"),
        (ou_paths(10, 8, seed=1), {"model": "transformer"}, "valid choices: gru, cde"),
        (ou_paths(10, 8, seed=1), {"train_fraction": 1.0}, "train_fraction"),
        (ou_paths(10, 8, seed=1), {"epochs": 0}, "epochs"),
    ],
)
def test_bad_input_raises_clear_errors(fake, options, message):
    with pytest.raises(ValueError, match=message):
        classification_accuracy(ou_paths(10, 8, seed=0), fake, seed=0, **options)

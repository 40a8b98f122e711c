"""Train-on-synthetic-test-on-real prediction loss."""

import math

import pytest
import torch

from sdegan.metrics import prediction_loss
from sdegan.metrics.prediction import _masked_mse
from tests.metrics.simulated_ou import ou_paths

FAST = dict(hidden_size=16, epochs=15, batch_size=64)


def test_tstr_with_the_true_process_is_close_to_trtr_and_a_wrong_process_is_worse():
    real_train = ou_paths(300, 32, seed=0, missing_fraction=0.3)
    real_test = ou_paths(300, 32, seed=1, missing_fraction=0.3)
    true_generator = ou_paths(300, 32, seed=2)
    wrong_generator = ou_paths(300, 32, seed=3, level=1.0)
    trtr = prediction_loss(real_train, real_test, seed=0, **FAST)
    tstr = prediction_loss(true_generator, real_test, seed=0, **FAST)
    tstr_wrong = prediction_loss(wrong_generator, real_test, seed=0, **FAST)
    assert abs(tstr - trtr) < 0.1 * trtr
    assert tstr_wrong > 1.5 * trtr


def test_loss_is_computed_on_observed_targets_only():
    predicted = torch.tensor([[1.0, 2.0, 3.0]])
    target = torch.tensor([[1.5, 0.0, 5.0]])
    observed = torch.tensor([[True, False, True]])
    assert float(_masked_mse(predicted, target, observed)) == pytest.approx((0.25 + 4.0) / 2)


def test_missing_test_values_do_not_produce_nan_and_deterministic_given_seed():
    train = ou_paths(40, 10, seed=0, missing_fraction=0.4)
    test = ou_paths(40, 10, seed=1, missing_fraction=0.4)
    options = dict(hidden_size=4, epochs=2, batch_size=16)
    first = prediction_loss(train, test, seed=3, **options)
    assert math.isfinite(first)
    torch.manual_seed(42)
    assert prediction_loss(train, test, seed=3, **options) == first
    assert prediction_loss(train, test, seed=4, **options) != first


@pytest.mark.parametrize(
    "test_paths, options, message",
    [
        (ou_paths(10, 8, seed=1, channels=3), {}, "same number of channels"),
        (ou_paths(10, 7, seed=1), {}, "same length"),
        (torch.zeros(10, 8), {}, "3 dimensions"),
        (ou_paths(10, 8, seed=1), {"context_fraction": 0.0}, "context_fraction"),
        (ou_paths(10, 8, seed=1), {"hidden_size": 0}, "hidden_size"),
    ],
)
def test_bad_input_raises_clear_errors(test_paths, options, message):
    with pytest.raises(ValueError, match=message):
        prediction_loss(ou_paths(10, 8, seed=0), test_paths, seed=0, **options)

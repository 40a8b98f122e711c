"""Train-on-synthetic-test-on-real prediction loss."""

import math

import pytest
import torch

from sdegan.metrics import prediction_loss, predictive_score
from sdegan.metrics.prediction import _masked_mae, _masked_mse
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


def test_predictive_score_reaches_the_ou_noise_floor_and_ranks_generators():
    # One-step-ahead MAE on OU paths (theta 0.3, sigma 0.5, unit steps) cannot beat the Gaussian
    # transition noise: std 0.5 sqrt((1 - exp(-0.6)) / 0.6) = 0.434, mean absolute value
    # 0.434 sqrt(2 / pi) = 0.346. A predictor trained on real (or truly generated) paths gets
    # close to that floor; one trained on a process with a shifted level is clearly worse.
    floor = 0.5 * math.sqrt((1 - math.exp(-0.6)) / 0.6) * math.sqrt(2 / math.pi)
    real_train, real_test = ou_paths(400, 24, seed=0), ou_paths(400, 24, seed=1)
    options = dict(hidden_size=16, epochs=20, batch_size=64)
    trtr = predictive_score(real_train, real_test, seed=0, **options)
    tstr = predictive_score(ou_paths(400, 24, seed=2), real_test, seed=0, **options)
    wrong = predictive_score(ou_paths(400, 24, seed=3, level=2.0), real_test, seed=0, **options)
    assert 0.95 * floor < trtr < 1.15 * floor
    assert abs(tstr - trtr) < 0.1 * trtr
    assert wrong > 1.3 * trtr


def test_predictive_score_is_a_mean_absolute_error_over_observed_next_values():
    predicted = torch.tensor([[1.0, 2.0, 3.0]])
    target = torch.tensor([[1.5, 0.0, 5.0]])
    observed = torch.tensor([[True, False, True]])
    assert float(_masked_mae(predicted, target, observed)) == pytest.approx((0.5 + 2.0) / 2)
    train = ou_paths(40, 10, seed=0, missing_fraction=0.4)
    test = ou_paths(40, 10, seed=1, missing_fraction=0.4)
    options = dict(hidden_size=4, epochs=2, batch_size=16)
    first = predictive_score(train, test, seed=3, **options)
    assert math.isfinite(first) and first > 0
    torch.manual_seed(42)
    assert predictive_score(train, test, seed=3, **options) == first
    with pytest.raises(ValueError, match="same length"):
        predictive_score(train, ou_paths(10, 9, seed=1), seed=0)

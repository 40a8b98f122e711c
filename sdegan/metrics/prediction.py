"""Prediction loss: train a sequence-to-sequence predictor on one set of paths, test it on another.

Trained on generated paths and tested on real test paths this is TSTR (train on synthetic, test on
real); trained on real training paths it is TRTR, the reference a perfect generator would match.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sdegan.metrics.fitting import (
    ChannelStandardiser,
    check_fraction,
    check_positive_int,
    fit,
    gradients_enabled,
)
from sdegan.paths import check_paths, check_same_channels, check_same_length, fill_missing
from sdegan.random_state import seeded
from sdegan.metrics.sequence_models import GRUPredictor


def _masked_mse(predicted: Tensor, target: Tensor, observed: Tensor) -> Tensor:
    squared_error = torch.where(observed, (predicted - target).square(), 0.0)
    return squared_error.sum() / observed.sum().clamp_min(1)


def prediction_loss(train_paths: Tensor, test_paths: Tensor, *, seed: int,
                    context_fraction: float = 0.5, hidden_size: int = 32, epochs: int = 30,
                    batch_size: int = 128, lr: float = 1e-2) -> float:
    """Test mean squared error of a predictor of the rest of a path from its first part.

    The first ``k = round(context_fraction * length)`` observations (all channels, time included,
    missing values filled and standardised with training statistics) are encoded by a GRU; a
    decoder GRU fed the remaining times predicts the remaining values (see
    :class:`sdegan.metrics.sequence_models.GRUPredictor`). Training minimises, and the result
    reports, the mean squared error over the *observed* future values only (NaN targets are
    skipped, never filled), in the paths' own units. Adam, fixed number of epochs. Lower is better.

    Arguments:
        train_paths: paths to train on (generated for TSTR, real training paths for TRTR).
        test_paths: real held-out paths; same length and channels as ``train_paths``.
        seed: makes initialisation and minibatch order deterministic; the caller's random state is
            left untouched.
        context_fraction: fraction of the observations given to the predictor.
        hidden_size, epochs, batch_size, lr: predictor size and training schedule.

    Returns:
        Mean squared error on the observed future values of ``test_paths``.
    """
    check_paths(train_paths, "train_paths")
    check_paths(test_paths, "test_paths")
    check_same_channels(train_paths, test_paths, "train_paths", "test_paths")
    check_same_length(train_paths, test_paths, "train_paths", "test_paths")
    check_positive_int(hidden_size, "hidden_size")
    check_fraction(context_fraction, "context_fraction")
    length = train_paths.shape[1]
    split = min(max(1, round(context_fraction * length)), length - 1)
    device = test_paths.device

    def inputs_and_targets(paths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        standardised = standardise(fill_missing(paths))
        future_values = paths[:, split:, 1:]
        observed = ~torch.isnan(future_values)
        return (standardised[:, :split], standardised[:, split:, :1],
                torch.nan_to_num(future_values), observed)

    with seeded(seed), gradients_enabled():
        train_paths = train_paths.detach().to(device).float().clone()
        test_paths = test_paths.detach().float().clone()
        standardise = ChannelStandardiser(fill_missing(train_paths))
        predictor = GRUPredictor(train_paths.shape[-1], train_paths.shape[-1] - 1,
                                 hidden_size).to(device)

        def loss_fn(context: Tensor, future_times: Tensor, target: Tensor,
                    observed: Tensor) -> Tensor:
            return _masked_mse(predictor(context, future_times), target, observed)

        fit(predictor, loss_fn, inputs_and_targets(train_paths),
            epochs=epochs, batch_size=batch_size, lr=lr)
        with torch.no_grad():
            loss = loss_fn(*inputs_and_targets(test_paths))
    return float(loss)

"""Prediction metrics: train a predictor on one set of paths, test it on another.

:func:`prediction_loss` (sequence to sequence, mean squared error) and :func:`predictive_score` (next
step, mean absolute error, the "predictive score" of TimeGAN-style tables). Trained on generated
paths and tested on real test paths they are TSTR (train on synthetic, test on real); trained on real
training paths, TRTR, the reference a perfect generator would match.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from sdegan.metrics.fitting import (
    ChannelStandardiser,
    check_fraction,
    check_positive_int,
    fit,
    gradients_enabled,
)
from sdegan.paths import check_paths, check_same_channels, check_same_length, fill_missing
from sdegan.random_state import seeded
from sdegan.metrics.sequence_models import GRUNextStepPredictor, GRUPredictor


def _masked_mse(predicted: Tensor, target: Tensor, observed: Tensor) -> Tensor:
    squared_error = torch.where(observed, (predicted - target).square(), 0.0)
    return squared_error.sum() / observed.sum().clamp_min(1)


def _masked_mae(predicted: Tensor, target: Tensor, observed: Tensor) -> Tensor:
    absolute_error = torch.where(observed, (predicted - target).abs(), 0.0)
    return absolute_error.sum() / observed.sum().clamp_min(1)


def _check_train_and_test(train_paths: Tensor, test_paths: Tensor, hidden_size: int) -> None:
    check_paths(train_paths, "train_paths")
    check_paths(test_paths, "test_paths")
    check_same_channels(train_paths, test_paths, "train_paths", "test_paths")
    check_same_length(train_paths, test_paths, "train_paths", "test_paths")
    check_positive_int(hidden_size, "hidden_size")


def _test_error(train_paths: Tensor, test_paths: Tensor, *, seed: int,
                make_predictor: Callable[[], nn.Module],
                inputs_and_targets: Callable[[Tensor, Tensor], tuple[Tensor, ...]],
                error: Callable[[Tensor, Tensor, Tensor], Tensor], epochs: int, batch_size: int,
                lr: float) -> float:
    """Train a new ``make_predictor()`` on ``train_paths`` to minimise ``error``; return its error
    on ``test_paths``.

    ``inputs_and_targets(standardised, values)`` gets the filled paths, standardised with the
    training paths' statistics, and the raw value channels (NaN where missing), and returns the
    predictor's inputs followed by the target values; ``error(predicted, target, observed)``
    averages over the observed targets only. Runs inside :func:`seeded`, so initialisation and
    minibatch order are deterministic given ``seed`` and the caller's random state is untouched.
    """
    device = test_paths.device

    def tensors(paths: Tensor) -> tuple[Tensor, ...]:
        *inputs, targets = inputs_and_targets(standardise(fill_missing(paths)), paths[..., 1:])
        return (*inputs, torch.nan_to_num(targets), ~torch.isnan(targets))

    def loss_fn(*batch: Tensor) -> Tensor:
        *inputs, target, observed = batch
        return error(predictor(*inputs), target, observed)

    with seeded(seed), gradients_enabled():
        train_paths = train_paths.detach().to(device).float().clone()
        test_paths = test_paths.detach().float().clone()
        standardise = ChannelStandardiser(fill_missing(train_paths))
        predictor = make_predictor().to(device)
        fit(predictor, loss_fn, tensors(train_paths), epochs=epochs, batch_size=batch_size, lr=lr)
        with torch.no_grad():
            loss = loss_fn(*tensors(test_paths))
    return float(loss)


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
    _check_train_and_test(train_paths, test_paths, hidden_size)
    check_fraction(context_fraction, "context_fraction")
    length = train_paths.shape[1]
    split = min(max(1, round(context_fraction * length)), length - 1)
    channels = train_paths.shape[-1]

    def inputs_and_targets(standardised: Tensor, values: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return standardised[:, :split], standardised[:, split:, :1], values[:, split:]

    return _test_error(train_paths, test_paths, seed=seed,
                       make_predictor=lambda: GRUPredictor(channels, channels - 1, hidden_size),
                       inputs_and_targets=inputs_and_targets, error=_masked_mse,
                       epochs=epochs, batch_size=batch_size, lr=lr)

def predictive_score(train_paths: Tensor, test_paths: Tensor, *, seed: int, hidden_size: int = 32,
                     epochs: int = 30, batch_size: int = 128, lr: float = 1e-2) -> float:
    """Test mean absolute error of a one-step-ahead predictor (the TimeGAN "predictive score").

    At each observation ``i < length - 1`` a GRU reads the path up to observation ``i`` (all
    channels, time included, missing values filled, standardised with training statistics) and
    the (standardised) time of observation ``i + 1``, and a linear read-out predicts the values at
    ``i + 1`` (see :class:`sdegan.metrics.sequence_models.GRUNextStepPredictor`). Training
    minimises, and the result reports, the mean absolute error over the *observed* next values of
    every step and channel (NaN targets are skipped, never filled), in the paths' own units. Adam,
    fixed number of epochs. Lower is better.

    Arguments:
        train_paths: paths to train on (generated: the predictive score; real training paths: its
            real-data reference).
        test_paths: real held-out paths; same length and channels as ``train_paths``.
        seed: makes initialisation and minibatch order deterministic; the caller's random state is
            left untouched.
        hidden_size, epochs, batch_size, lr: predictor size and training schedule.

    Returns:
        Mean absolute error on the observed next-step values of ``test_paths``.
    """
    _check_train_and_test(train_paths, test_paths, hidden_size)
    channels = train_paths.shape[-1]

    def inputs_and_targets(standardised: Tensor, values: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return standardised[:, :-1], standardised[:, 1:, :1], values[:, 1:]

    return _test_error(train_paths, test_paths, seed=seed,
                       make_predictor=lambda: GRUNextStepPredictor(channels, channels - 1, hidden_size),
                       inputs_and_targets=inputs_and_targets, error=_masked_mae,
                       epochs=epochs, batch_size=batch_size, lr=lr)

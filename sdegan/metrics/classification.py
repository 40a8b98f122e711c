"""Real-vs-generated classification accuracy: how well a trained classifier tells the samples apart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor
from torch.nn.functional import binary_cross_entropy_with_logits

from sdegan.metrics.fitting import (
    ChannelStandardiser,
    check_fraction,
    check_positive_int,
    fit,
    gradients_enabled,
)
from sdegan.paths import check_paths, check_same_channels, check_same_length, fill_missing
from sdegan.random_state import seeded
from sdegan.metrics.sequence_models import make_classifier


def classification_accuracy(real: Tensor, fake: Tensor, *, seed: int, model: str = "gru",
                            hidden_size: int = 32, epochs: int = 30, batch_size: int = 128,
                            lr: float = 1e-2, train_fraction: float = 0.7,
                            solve_options: Mapping[str, Any] | None = None) -> float:
    """Held-out accuracy of a classifier trained to tell real paths from generated ones.

    Both samples are cut to the same size ``n = min(len(real), len(fake))`` (a seeded random subset)
    so that 0.5 is chance level; each is split into ``train_fraction`` for training and the rest for
    the held-out accuracy. Missing values are filled (:func:`sdegan.paths.fill_missing`) and
    every channel, time included, is standardised with statistics of the training split. The
    classifier is trained with Adam on binary cross-entropy for a fixed number of epochs (no early
    stopping). 0.5 means the classifier cannot tell them apart (ideal); 1.0 means it always can.

    Give both samples the same observation pattern (e.g. with
    :func:`sdegan.metrics.apply_missing_pattern`, as :func:`sdegan.metrics.evaluate_generator`
    does): otherwise the classifier learns to spot linearly interpolated gaps.

    Arguments:
        real, fake: ``(batch, length, 1 + channels)`` paths with equal length and channels.
        seed: makes the subset, split, initialisation and minibatch order deterministic; the
            caller's random state is left untouched.
        model: ``"gru"`` (default: fast) or ``"cde"`` (a neural CDE solved through
            ``sdegan.solvers.cdeint`` with ``solve_options``, e.g. ``method="dopri5",
            gradient="adjoint", norm="seminorm"``).
        hidden_size, epochs, batch_size, lr: classifier size and training schedule.
        train_fraction: fraction of each sample used for training.
        solve_options: keyword arguments for ``cdeint`` (model ``"cde"`` only).

    Returns:
        Accuracy on the held-out split, a float in [0, 1].
    """
    check_paths(real, "real", min_batch=2)
    check_paths(fake, "fake", min_batch=2)
    check_same_channels(real, fake, "real", "fake")
    check_same_length(real, fake, "real", "fake")
    check_positive_int(hidden_size, "hidden_size")
    check_fraction(train_fraction, "train_fraction")
    size = min(real.shape[0], fake.shape[0])
    num_train = min(max(1, round(train_fraction * size)), size - 1)
    device = real.device
    with seeded(seed), gradients_enabled():
        real = fill_missing(real.detach().clone()[torch.randperm(real.shape[0])[:size].to(device)])
        fake = fake.detach().to(device).clone()
        fake = fill_missing(fake[torch.randperm(fake.shape[0])[:size].to(device)])
        real, fake = real.float(), fake.float()
        train_inputs = torch.cat([real[:num_train], fake[:num_train]])
        test_inputs = torch.cat([real[num_train:], fake[num_train:]])
        train_labels = torch.cat([torch.ones(num_train), torch.zeros(num_train)]).to(device)
        test_labels = torch.cat([torch.ones(size - num_train), torch.zeros(size - num_train)])
        standardise = ChannelStandardiser(train_inputs)
        classifier = make_classifier(model, real.shape[-1], hidden_size, solve_options).to(device)

        def loss_fn(inputs: Tensor, labels: Tensor) -> Tensor:
            return binary_cross_entropy_with_logits(classifier(inputs), labels)

        fit(classifier, loss_fn, (standardise(train_inputs), train_labels),
            epochs=epochs, batch_size=batch_size, lr=lr)
        with torch.no_grad():
            predictions = (classifier(standardise(test_inputs)) > 0).float().cpu()
    return float((predictions == test_labels).float().mean())

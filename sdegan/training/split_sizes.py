"""Warnings when a data split is too small for the metrics computed on it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["small_split_warnings", "warn_about_small_splits"]


def small_split_warnings(num_train: int, num_test: int, metrics: Mapping[str, Any]) -> list[str]:
    """One sentence per metric that gets fewer real paths than the ``metrics`` config asks for.

    The test metrics compare ``metrics.num_samples`` real test paths with as many generated ones, and
    the classifier is judged on the part of them it was not trained on (``1 - train_fraction``); the
    TRTR/TSTR predictors train on ``prediction.num_train`` paths.
    """
    from sdegan.metrics import MetricsConfig

    config = MetricsConfig.from_mapping(metrics)
    messages = []
    if num_test < config.num_samples:
        used = min(num_test, config.num_samples)
        held_out = used - min(max(1, round(config.classification.train_fraction * used)), used - 1)
        detail = (f"; classification accuracy is judged on {held_out} held-out path(s) per class, so it can only "
                  f"take steps of {1 / (2 * held_out):.2g}") if "classification" in config.include else ""
        messages.append(f"the test split has {num_test} paths, fewer than metrics.num_samples={config.num_samples}: "
                        f"the test metrics compare only {used} real paths{detail}")
    if "prediction" in config.include and num_train < config.prediction.num_train:
        messages.append(f"the train split has {num_train} paths, fewer than metrics.prediction.num_train="
                        f"{config.prediction.num_train}: TRTR trains on {num_train} real paths only")
    return messages


def warn_about_small_splits(datamodule: Any, metrics: Mapping[str, Any]) -> None:
    """Log a warning for each of :func:`small_split_warnings` on the datamodule's train and test splits."""
    for message in small_split_warnings(len(datamodule.train_paths), len(datamodule.test_paths), metrics):
        log.warning("warning: %s; the values are not reliable, use more data", message)

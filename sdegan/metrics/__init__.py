"""Evaluation metrics for generative models of paths: signature MMD, real-vs-generated
classification accuracy, and train-on-synthetic-test-on-real prediction loss.

Inputs are path tensors ``(batch, length, 1 + channels)`` with time in channel 0 and NaN allowed in
the value channels (filled by linear interpolation in time, nearest value at the edges). See
docs/metrics.md for the definitions, choices and logged names.
"""

from sdegan.metrics.classification import classification_accuracy
from sdegan.metrics.evaluate import (
    METRIC_GROUPS,
    ClassificationSettings,
    MetricsConfig,
    MMDSettings,
    PredictionSettings,
    evaluate_generator,
    metric_names,
)
from sdegan.paths import apply_missing_pattern, fill_missing
from sdegan.metrics.prediction import prediction_loss
from sdegan.metrics.signature_mmd import SIGNATURE_BACKENDS, auto_scale, path_signatures, signature_mmd

__all__ = [
    "METRIC_GROUPS",
    "SIGNATURE_BACKENDS",
    "ClassificationSettings",
    "MMDSettings",
    "MetricsConfig",
    "PredictionSettings",
    "apply_missing_pattern",
    "auto_scale",
    "classification_accuracy",
    "evaluate_generator",
    "fill_missing",
    "metric_names",
    "path_signatures",
    "prediction_loss",
    "signature_mmd",
]

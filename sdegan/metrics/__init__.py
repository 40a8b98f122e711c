"""Evaluation metrics for generative models of paths: signature MMD (bounded, normalised kernel by
default), real-vs-generated classification accuracy and discriminative score, and
train-on-synthetic-test-on-real prediction loss and predictive score.

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
from sdegan.metrics.prediction import prediction_loss, predictive_score
from sdegan.metrics.signature_mmd import (
    MMD_KERNELS,
    SIGNATURE_BACKENDS,
    auto_scale,
    normalised_signature_features,
    path_signatures,
    signature_mmd,
)

__all__ = [
    "METRIC_GROUPS",
    "MMD_KERNELS",
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
    "normalised_signature_features",
    "path_signatures",
    "prediction_loss",
    "predictive_score",
    "signature_mmd",
]

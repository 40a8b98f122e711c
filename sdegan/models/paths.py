"""Helpers for the path format ``(batch, length, 1 + channels)`` with time in channel 0."""

from __future__ import annotations

import torch

from sdegan.paths import fill_missing
from sdegan.errors import ConfigurationError

__all__ = ["fill_missing_linear", "check_paths"]


def check_paths(paths: torch.Tensor, channels: int | None = None) -> None:
    """Raise ``ValueError`` unless ``paths`` is ``(batch, length, 1 + channels)`` with finite time."""
    if paths.ndim != 3 or paths.size(-1) < 2 or paths.size(1) < 2:
        raise ConfigurationError(
            "paths must have shape (batch, length >= 2, 1 + channels) with time in channel 0, "
            f"got {tuple(paths.shape)}"
        )
    if channels is not None and paths.size(-1) != 1 + channels:
        raise ConfigurationError(
            f"paths have {paths.size(-1) - 1} value channels, the model expects {channels}"
        )
    if not torch.isfinite(paths[..., 0]).all():
        raise ConfigurationError("the time channel (channel 0) of paths must be finite (no NaN)")


def fill_missing_linear(paths: torch.Tensor) -> torch.Tensor:
    """Fill NaN values by linear interpolation in time (:func:`sdegan.paths.fill_missing`); the result
    are the coefficients of ``torchcde.LinearInterpolation`` with the default (index) parameterisation.

    Raises ``ValueError`` if some path has a channel with no observed value at all.
    """
    if not bool((~torch.isnan(paths[..., 1:])).any(dim=1).all()):
        raise ConfigurationError("a path has a channel with no observed value; cannot interpolate it")
    return fill_missing(paths)

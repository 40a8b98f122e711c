"""Checking path tensors and filling their missing values, shared by every metric.

Paths follow the project's one data format (docs/architecture.md): a float tensor of shape
``(batch, length, 1 + channels)`` whose channel 0 is time (never NaN, strictly increasing) and whose
other channels are values, NaN where missing.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sdegan.paths import fill_missing
from sdegan.errors import ConfigurationError

__all__ = ["apply_missing_pattern", "check_paths", "check_same_channels", "check_same_length", "fill_missing"]


def check_paths(paths: Tensor, name: str, *, min_batch: int = 1) -> None:
    """Raise ``ValueError`` unless ``paths`` is a valid batch of paths.

    Arguments:
        paths: the tensor to check.
        name: how the error messages call it (e.g. ``"real"``).
        min_batch: the fewest paths the caller can work with.
    """
    if not isinstance(paths, Tensor):
        raise ConfigurationError(f"{name} must be a torch.Tensor of shape (batch, length, 1 + channels), "
                         f"got {type(paths).__name__}")
    if paths.ndim != 3:
        raise ConfigurationError(f"{name} must have 3 dimensions (batch, length, 1 + channels), "
                         f"got shape {tuple(paths.shape)}")
    if not paths.is_floating_point():
        raise ConfigurationError(f"{name} must be a floating-point tensor, got dtype {paths.dtype}")
    batch, length, width = paths.shape
    if width < 2:
        raise ConfigurationError(f"{name} must have time in channel 0 and at least one value channel, "
                         f"got {width} channel(s) in shape {tuple(paths.shape)}")
    if length < 2:
        raise ConfigurationError(f"{name} must have at least 2 observation times, got length {length}")
    if batch < min_batch:
        raise ConfigurationError(f"{name} must hold at least {min_batch} paths, got {batch}")
    times = paths[..., 0]
    if not torch.isfinite(times).all():
        raise ConfigurationError(f"{name}: channel 0 (time) must be finite everywhere (no NaN or inf)")
    if not (times[:, 1:] > times[:, :-1]).all():
        raise ConfigurationError(f"{name}: channel 0 (time) must be strictly increasing along each path")
    values = paths[..., 1:]
    if torch.isinf(values).any():
        raise ConfigurationError(f"{name}: value channels contain inf (only NaN is allowed, meaning missing)")
    all_missing = torch.isnan(values).all(dim=1)
    if all_missing.any():
        path_index, channel_index = all_missing.nonzero()[0].tolist()
        raise ConfigurationError(f"{name}: path {path_index} has no observed value in channel "
                         f"{channel_index + 1}; every path needs at least one observation per channel")


def check_same_channels(first: Tensor, second: Tensor, first_name: str, second_name: str) -> None:
    """Raise ``ValueError`` unless the two path batches have the same number of channels."""
    if first.shape[-1] != second.shape[-1]:
        raise ConfigurationError(f"{first_name} and {second_name} must have the same number of channels "
                         f"(time + values), got {first.shape[-1]} and {second.shape[-1]}")


def check_same_length(first: Tensor, second: Tensor, first_name: str, second_name: str) -> None:
    """Raise ``ValueError`` unless the two path batches have the same number of observation times."""
    if first.shape[1] != second.shape[1]:
        raise ConfigurationError(f"{first_name} and {second_name} must have the same length "
                         f"(observation times), got {first.shape[1]} and {second.shape[1]}")


def apply_missing_pattern(paths: Tensor, pattern_paths: Tensor) -> Tensor:
    """Copy the missing-value pattern of ``pattern_paths`` onto ``paths`` (path ``i`` onto path ``i``).

    Returns ``paths`` with its value entries set to NaN wherever ``pattern_paths`` has NaN. Used to
    give generated paths the same observation pattern as the real paths they are compared with, so
    that the metrics compare the processes and not the artefacts of filling gaps (a classifier
    easily tells linearly interpolated paths from complete ones). Both must have the same shape.
    """
    if paths.shape != pattern_paths.shape:
        raise ConfigurationError(f"paths and pattern_paths must have the same shape, got "
                         f"{tuple(paths.shape)} and {tuple(pattern_paths.shape)}")
    missing = torch.isnan(pattern_paths[..., 1:]).to(paths.device)
    values = paths[..., 1:].masked_fill(missing, float("nan"))
    return torch.cat([paths[..., :1], values], dim=-1)

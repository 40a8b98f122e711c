"""The project's path format ``(batch, length, 1 + channels)`` (time in channel 0, NaN where a value is
missing; docs/architecture.md) and the one way its gaps are filled, shared by models and metrics."""

from __future__ import annotations

import torch
from torch import Tensor

from sdegan.errors import ConfigurationError

__all__ = ["fill_missing"]


def fill_missing(paths: Tensor) -> Tensor:
    """Fill the NaNs of the value channels; return a new tensor with no NaN.

    A gap between two observations is filled by linear interpolation in time (channel 0); missing
    values before the first observation take the first observed value, and missing values after the
    last observation take the last observed value (nearest-value extrapolation). Observed entries
    are returned unchanged (and ``paths`` itself when nothing is missing). Every path needs at least
    one observation per channel. Vectorised over the batch, so cheap enough to call every step.
    """
    times = paths[..., :1].expand_as(paths[..., 1:])
    values = paths[..., 1:]
    observed = ~torch.isnan(values)
    if observed.all():
        return paths
    length = paths.shape[1]
    index = torch.arange(length, device=paths.device).view(1, length, 1).expand_as(values)
    before = torch.where(observed, index, torch.full_like(index, -1)).cummax(dim=1).values
    after_reversed = torch.where(observed, index, torch.full_like(index, length)).flip(1)
    after = after_reversed.cummin(dim=1).values.flip(1)
    has_before = before >= 0
    has_after = after < length
    before = torch.where(has_before, before, after)
    after = torch.where(has_after, after, before)
    value_before = values.gather(1, before)
    value_after = values.gather(1, after)
    time_before = times.gather(1, before)
    time_after = times.gather(1, after)
    span = time_after - time_before
    weight = torch.where(span > 0, (times - time_before) / torch.where(span > 0, span, 1.0), 0.0)
    interpolated = value_before + weight * (value_after - value_before)
    filled = torch.where(observed, values, interpolated)
    return torch.cat([paths[..., :1], filled], dim=-1)


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

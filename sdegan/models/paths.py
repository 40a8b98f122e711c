"""Helpers for the path format ``(batch, length, 1 + channels)`` with time in channel 0."""

from __future__ import annotations

import torch

__all__ = ["fill_missing_linear", "check_paths"]


def check_paths(paths: torch.Tensor, channels: int | None = None) -> None:
    """Raise ``ValueError`` unless ``paths`` is ``(batch, length, 1 + channels)`` with finite time."""
    if paths.ndim != 3 or paths.size(-1) < 2 or paths.size(1) < 2:
        raise ValueError(
            "paths must have shape (batch, length >= 2, 1 + channels) with time in channel 0, "
            f"got {tuple(paths.shape)}"
        )
    if channels is not None and paths.size(-1) != 1 + channels:
        raise ValueError(
            f"paths have {paths.size(-1) - 1} value channels, the model expects {channels}"
        )
    if not torch.isfinite(paths[..., 0]).all():
        raise ValueError("the time channel (channel 0) of paths must be finite (no NaN)")


def fill_missing_linear(paths: torch.Tensor) -> torch.Tensor:
    """Fill NaN values by linear interpolation in time, per path and channel.

    Gaps at the start (end) take the first (last) observed value. Vectorised over the batch, so it is
    cheap to call every step (torchcde's NaN handling loops over paths in Python). The result are the
    coefficients of ``torchcde.LinearInterpolation`` with the default (index) parameterisation.

    Raises ``ValueError`` if some path has a channel with no observation at all.
    """
    values = paths[..., 1:]
    observed = ~torch.isnan(values)
    if bool(observed.all()):
        return paths
    if not bool(observed.any(dim=1).all()):
        raise ValueError("a path has a channel with no observed value; cannot interpolate it")
    length = paths.size(1)
    index = torch.arange(length, device=paths.device).view(1, length, 1).expand_as(values)
    previous = torch.where(observed, index, torch.full_like(index, -1)).cummax(dim=1).values
    following = torch.where(observed, index, torch.full_like(index, length))
    following = following.flip(1).cummin(dim=1).values.flip(1)
    previous = torch.where(previous < 0, following, previous)
    following = torch.where(following >= length, previous, following)
    time = paths[..., :1].expand_as(values)
    safe = torch.nan_to_num(values)
    t0, t1 = time.gather(1, previous), time.gather(1, following)
    v0, v1 = safe.gather(1, previous), safe.gather(1, following)
    span = t1 - t0
    weight = torch.where(span > 0, (time - t0) / torch.where(span > 0, span, 1.0), 0.0)
    filled = torch.where(observed, values, v0 + weight * (v1 - v0))
    return torch.cat([paths[..., :1], filled], dim=-1)

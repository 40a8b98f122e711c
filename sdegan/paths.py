"""The project's one path format and its helpers, shared by models, metrics and training.

A batch of paths is a float tensor ``(batch, length, 1 + channels)``: channel 0 is time (finite and
strictly increasing along each path, possibly different for every path: irregular sampling), the other
channels are values, NaN where missing (docs/architecture.md). This module checks that format, fills gaps
the one way the project fills them, copies observation patterns from real paths onto generated ones, and
turns a batch's per-path observation times into one grid to solve on.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sdegan.errors import ConfigurationError

__all__ = [
    "apply_missing_pattern",
    "check_paths",
    "check_same_channels",
    "check_same_length",
    "check_times",
    "fill_missing",
    "read_at_positions",
    "union_of_times",
]


def check_paths(paths: Tensor, name: str = "paths", *, channels: int | None = None, min_batch: int = 1) -> None:
    """Raise :class:`~sdegan.errors.ConfigurationError` unless ``paths`` is a valid batch of paths.

    Arguments:
        paths: the tensor to check.
        name: how the error messages call it (e.g. ``"real"``).
        channels: the number of value channels the caller expects (``None``: any).
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
    if channels is not None and width != 1 + channels:
        raise ConfigurationError(f"{name} have {width - 1} value channels, expected {channels}")
    if length < 2:
        raise ConfigurationError(f"{name} must have at least 2 observation times, got length {length}")
    if batch < min_batch:
        raise ConfigurationError(f"{name} must hold at least {min_batch} paths, got {batch}")
    check_times(paths[..., 0], f"{name}: channel 0 (time)")
    values = paths[..., 1:]
    if torch.isinf(values).any():
        raise ConfigurationError(f"{name}: value channels contain inf (only NaN is allowed, meaning missing)")
    all_missing = torch.isnan(values).all(dim=1)
    if all_missing.any():
        path_index, channel_index = all_missing.nonzero()[0].tolist()
        raise ConfigurationError(f"{name}: path {path_index} has no observed value in channel "
                                 f"{channel_index + 1}; every path needs at least one observation per channel")


def check_times(times: Tensor, name: str = "times") -> None:
    """Raise :class:`~sdegan.errors.ConfigurationError` unless ``times`` (``(length,)`` shared by all paths,
    or ``(batch, length)`` one row per path) is finite and strictly increasing along its last dimension,
    with at least two points."""
    if not isinstance(times, Tensor) or times.ndim not in (1, 2) or times.size(-1) < 2:
        shape = tuple(times.shape) if isinstance(times, Tensor) else type(times).__name__
        raise ConfigurationError(f"{name} must be a tensor (length,) or (batch, length) with length >= 2, "
                                 f"got {shape}")
    if not torch.isfinite(times).all():
        raise ConfigurationError(f"{name} must be finite everywhere (no NaN or inf)")
    if not (times[..., 1:] > times[..., :-1]).all():
        raise ConfigurationError(f"{name} must be strictly increasing along each path")


def check_same_channels(first: Tensor, second: Tensor, first_name: str, second_name: str) -> None:
    """Raise unless the two path batches have the same number of channels."""
    if first.shape[-1] != second.shape[-1]:
        raise ConfigurationError(f"{first_name} and {second_name} must have the same number of channels "
                                 f"(time + values), got {first.shape[-1]} and {second.shape[-1]}")


def check_same_length(first: Tensor, second: Tensor, first_name: str, second_name: str) -> None:
    """Raise unless the two path batches have the same number of observation times."""
    if first.shape[1] != second.shape[1]:
        raise ConfigurationError(f"{first_name} and {second_name} must have the same length "
                                 f"(observation times), got {first.shape[1]} and {second.shape[1]}")


def fill_missing(paths: Tensor) -> Tensor:
    """Fill the NaNs of the value channels; return a new tensor with no NaN.

    A gap between two observations is filled by linear interpolation in time (channel 0); missing
    values before the first observation take the first observed value, and missing values after the
    last observation take the last observed value (nearest-value extrapolation). Observed entries
    are returned unchanged (and ``paths`` itself when nothing is missing). Every path needs at least
    one observation per channel (:func:`check_paths`). Vectorised over the batch, so cheap enough to
    call every step. The result, with its default (index) parameterisation, is what the discriminator
    gives ``torchcde.LinearInterpolation``.
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
    easily tells linearly interpolated paths from complete ones). Both must have the same shape; the
    generated paths are expected to carry the real paths' times already (``sample(n, times=real[..., 0])``).
    """
    if paths.shape != pattern_paths.shape:
        raise ConfigurationError(f"paths and pattern_paths must have the same shape, got "
                                 f"{tuple(paths.shape)} and {tuple(pattern_paths.shape)}")
    missing = torch.isnan(pattern_paths[..., 1:]).to(paths.device)
    values = paths[..., 1:].masked_fill(missing, float("nan"))
    return torch.cat([paths[..., :1], values], dim=-1)


def union_of_times(times: Tensor) -> tuple[Tensor, Tensor | None]:
    """One grid to solve a batch on, and where each path's own times lie in it.

    Arguments:
        times: ``(length,)`` shared observation times, or ``(batch, length)`` per-path ones.

    Returns:
        ``(grid, positions)``. When every path has the same times (1-D input, or identical rows) ``grid``
        is those times and ``positions`` is ``None``; otherwise ``grid`` is the sorted union ``(points,)``
        of all the batch's times and ``positions`` ``(batch, length)`` the index in ``grid`` of each path's
        observation, so that a solution ``(points, batch, ...)`` read at ``positions`` is each path at its
        own times (:func:`read_at_positions`).
    """
    if times.ndim == 1:
        return times, None
    if bool((times == times[:1]).all()):
        return times[0], None
    grid, inverse = torch.unique(times, sorted=True, return_inverse=True)
    return grid, inverse


def read_at_positions(solution: Tensor, positions: Tensor | None) -> Tensor:
    """``solution`` ``(points, batch, ...)`` on a batch's grid read at each path's own ``positions``
    (:func:`union_of_times`); returns ``(batch, length, ...)``."""
    by_path = solution.transpose(0, 1)
    if positions is None:
        return by_path
    index = positions.view(*positions.shape, *([1] * (by_path.ndim - 2))).expand(-1, -1, *by_path.shape[2:])
    return by_path.gather(1, index)

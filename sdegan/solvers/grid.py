"""The time grid a fixed-step solve walks: the output times plus the steps of size ``dt`` between them.

Two policies place the steps between consecutive output times (both hit every output time exactly, and
every gradient choice of a method walks the same grid):

- ``"divide"``: ``dt`` must divide every interval, judged at the precision of the times' dtype;
- ``"max_step"``: each interval is split into the fewest equal steps of size at most ``dt`` (an interval
  shorter than ``dt`` is one step), for irregular observation times.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
from torch import Tensor

from sdegan.errors import ConfigurationError

GRID_POLICIES = ("divide", "max_step")
_ROUNDOFF_ULPS = 64  # how many units of round-off in the times a whole number of steps may be off by


@dataclass(frozen=True)
class StepGrid:
    """Step times ``times[0] < ... < times[N]`` containing every output time (snapped to them exactly).

    Attributes:
        times: the N + 1 step times as Python floats (the same floats are used for every Brownian query, so
            forward and reverse passes ask for bit-identical intervals).
        output_steps: for each output time, the index in ``times`` where it lies.
        step_sizes: ``times[n + 1] - times[n]`` for every step, as Python floats.
    """

    times: tuple[float, ...]
    output_steps: tuple[int, ...]
    step_sizes: tuple[float, ...]
    _tensors: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def num_steps(self) -> int:
        return len(self.times) - 1

    def step_size(self, n: int) -> float:
        return self.step_sizes[n]

    def times_on(self, dtype: torch.dtype, device: torch.device) -> Tensor:
        """``times`` as a tensor (what vector fields receive), built once per dtype and device."""
        return self.constant(self.times, dtype, device)

    def constant(self, values: tuple[float, ...], dtype: torch.dtype, device: torch.device) -> Tensor:
        """``values`` (the grid's times, step sizes, a solver's stage fractions) as a tensor, copied to the
        device once per dtype and device, so repeated solves on this grid make no host-to-device copies."""
        key = (values, dtype, torch.device(device))
        tensor = self._tensors.get(key)
        if tensor is None:
            tensor = self._tensors[key] = torch.tensor(values, dtype=dtype, device=device)
        return tensor

    def has_output_times(self, ts: Tensor) -> bool:
        """Whether ``ts`` are exactly this grid's output times (a comparison on ``ts``'s device)."""
        if ts.dim() != 1 or ts.numel() != len(self.output_steps):
            return False
        outputs = tuple(self.times[step] for step in self.output_steps)
        return bool(torch.equal(ts, self.constant(outputs, ts.dtype, ts.device)))

    def knots_on_grid(self, knots: Sequence[float], eps: float) -> bool:
        """Whether every knot inside ``[times[0], times[-1]]`` is a step time (to ``eps``-relative round-off)."""
        scale = max(abs(self.times[0]), abs(self.times[-1]), 1.0)
        tolerance = _ROUNDOFF_ULPS * eps * scale
        for knot in knots:
            if not self.times[0] < knot < self.times[-1]:
                continue
            right = bisect.bisect_left(self.times, knot)
            if min(abs(self.times[right] - knot), abs(self.times[right - 1] - knot)) > tolerance:
                return False
        return True


def check_output_times(ts: Tensor) -> None:
    """Raises ConfigurationError unless ``ts`` is a 1-D tensor of at least two strictly increasing times."""
    if not isinstance(ts, Tensor) or ts.dim() != 1 or ts.numel() < 2:
        raise ConfigurationError("ts must be a 1-D tensor of at least two output times.")
    if not bool((ts[1:] > ts[:-1]).all()):
        raise ConfigurationError("ts must be strictly increasing.")


def check_step(dt: Optional[float]) -> None:
    """Raises ConfigurationError unless ``dt`` is None or a positive, finite number."""
    if dt is not None and not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise ConfigurationError(f"dt must be a positive, finite number (or None), got {dt!r}.")


def check_grid_policy(grid_policy: str) -> None:
    """Raises ConfigurationError unless ``grid_policy`` is one of :data:`GRID_POLICIES`."""
    if grid_policy not in GRID_POLICIES:
        raise ConfigurationError(f"grid_policy must be one of {GRID_POLICIES}, got {grid_policy!r}.")


def make_step_grid(ts: Tensor, dt: Optional[float], grid_policy: str = "divide") -> StepGrid:
    """Builds the step grid for the output times ``ts`` (one host round trip); ``dt=None`` steps from output
    time to output time.

    Raises:
        ConfigurationError: if ``ts`` or ``dt`` is invalid, or (``"divide"``) ``dt`` does not divide an
            interval between consecutive output times at the precision of ``ts``'s dtype.
    """
    check_output_times(ts)
    check_step(dt)
    check_grid_policy(grid_policy)
    eps = torch.finfo(ts.dtype).eps if ts.is_floating_point() else torch.finfo(torch.float64).eps
    return step_grid_from_floats([float(t) for t in ts.tolist()], dt, grid_policy, eps)


def step_grid_from_floats(output_times: Sequence[float], dt: Optional[float], grid_policy: str, eps: float) -> StepGrid:
    """:func:`make_step_grid` for output times already on the host, represented to relative precision ``eps``."""
    if dt is None:
        times = list(output_times)
        return StepGrid(tuple(times), tuple(range(len(times))), _differences(times))
    dt = float(dt)
    times = [output_times[0]]
    output_steps = [0]
    for start, end in zip(output_times[:-1], output_times[1:]):
        ratio = (end - start) / dt
        tolerance = _ROUNDOFF_ULPS * eps * max(abs(start), abs(end), dt) / dt
        if grid_policy == "max_step":
            num = max(1, math.ceil(ratio - tolerance))
        else:
            num = round(ratio)
            if num < 1 or abs(ratio - num) > tolerance:
                raise ConfigurationError(
                    f"dt={dt} does not divide the output interval [{start}, {end}]: choose dt so that every "
                    "interval between consecutive ts is a whole number of steps, use grid_policy='max_step' "
                    "(the fewest equal steps of size <= dt), or dt=None to step from output time to output time."
                )
        step = (end - start) / num
        times += [start + k * step for k in range(1, num)] + [end]
        output_steps.append(len(times) - 1)
    return StepGrid(tuple(times), tuple(output_steps), _differences(times))


def _differences(times: Sequence[float]) -> tuple[float, ...]:
    return tuple(b - a for a, b in zip(times[:-1], times[1:]))

"""The time grid a fixed-step solve walks: the output times plus the steps of size ``dt`` between them."""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from sdegan.errors import ConfigurationError

_GRID_TOLERANCE = 1e-6


@dataclass(frozen=True)
class StepGrid:
    """Step times ``times[0] < ... < times[N]`` containing every output time.

    Attributes:
        times: the N + 1 step times as Python floats (the same floats are used for every Brownian query, so
            forward and reverse passes ask for bit-identical intervals).
        output_steps: for each output time, the index in ``times`` where it lies.
        times_tensor: ``times`` as a tensor of the state's dtype and device (what vector fields receive).
    """

    times: tuple[float, ...]
    output_steps: tuple[int, ...]
    times_tensor: Tensor

    @property
    def num_steps(self) -> int:
        return len(self.times) - 1

    def step_size(self, n: int) -> float:
        return self.times[n + 1] - self.times[n]


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


GRID_POLICIES = ("divide", "max_step")


def make_step_grid(
    ts: Tensor, dt: Optional[float], dtype: torch.dtype, device: torch.device, grid_policy: str = "divide"
) -> StepGrid:
    """Builds the step grid; ``dt=None`` steps from output time to output time.

    ``grid_policy="divide"`` requires ``dt`` to divide every interval between consecutive output times;
    ``"max_step"`` splits every interval into the fewest equal steps of size at most ``dt`` (for output times
    that no common step divides, e.g. the union of a batch's irregular observation times). Where ``dt``
    divides an interval both policies give the same steps.

    Raises:
        ValueError: if ``dt`` is not positive or, with ``"divide"``, does not divide every interval between
            consecutive output times (the fixed-step solvers here output exactly on their grid, which exact
            gradients need).
    """
    if grid_policy not in GRID_POLICIES:
        raise ConfigurationError(f"grid_policy must be one of {GRID_POLICIES}, got {grid_policy!r}.")
    check_output_times(ts)
    output_times = [float(t) for t in ts.tolist()]
    if dt is None:
        times = output_times
        output_steps = list(range(len(times)))
    else:
        check_step(dt)
        dt = float(dt)
        times = [output_times[0]]
        output_steps = [0]
        for start, end in zip(output_times[:-1], output_times[1:]):
            ratio = (end - start) / dt
            num = round(ratio)
            divides = num >= 1 and abs(ratio - num) <= _GRID_TOLERANCE * max(1.0, ratio)
            if not divides and grid_policy == "max_step":
                num = math.ceil(ratio)
            elif not divides:
                raise ConfigurationError(
                    f"dt={dt} does not divide the output interval [{start}, {end}]: choose dt so that every "
                    "interval between consecutive ts is a whole number of steps (or dt=None to step from "
                    "output time to output time)."
                )
            step = (end - start) / num
            times += [start + k * step for k in range(1, num)] + [end]
            output_steps.append(len(times) - 1)
    times_tensor = torch.tensor(times, dtype=dtype, device=device)
    return StepGrid(tuple(times), tuple(output_steps), times_tensor)

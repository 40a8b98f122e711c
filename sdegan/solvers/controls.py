"""Controls: what drives a controlled vector field over each step of a grid."""

from __future__ import annotations

import abc
from typing import Callable, Optional

import torch
from torch import Tensor

from sdegan.errors import ConfigurationError
from sdegan.solvers.grid import StepGrid


class Control(abc.ABC):
    """The control increments ``dX_n = X(t_{n+1}) - X(t_n)`` on a step grid."""

    @abc.abstractmethod
    def increment(self, n: int) -> Optional[Tensor]:
        """The increment over step ``n`` (``None`` when there is no control)."""


class NoControl(Control):
    """For ODEs."""

    def increment(self, n: int) -> None:
        return None


class BrownianControl(Control):
    """Brownian increments queried from a Brownian object ``bm(ta, tb)``; regenerated, never stored."""

    def __init__(self, brownian: Callable[[float, float], Tensor], grid: StepGrid):
        self.brownian = brownian
        self.grid = grid

    def increment(self, n: int) -> Tensor:
        return self.brownian(self.grid.times[n], self.grid.times[n + 1])


class PathControl(Control):
    """Precomputed increments of a data path, a tensor ``(num_steps, batch, channels)``.

    They are an input of the solve (gradients flow back to the path's coefficients through them).
    """

    def __init__(self, increments: Tensor):
        self.increments = increments

    def increment(self, n: int) -> Tensor:
        return self.increments[n]


def path_values(path, times: Tensor, batch: int) -> Tensor:
    """Values of a torchcde-style path at ``times`` from one vectorised evaluation, ``(len(times), batch, channels)``.

    ``path.evaluate`` must accept a 1-D tensor of times (every torchcde interpolation does) and return
    ``(batch, len(times), channels)``.
    """
    values = path.evaluate(times)
    if values.dim() != 3 or values.shape[:2] != (batch, times.numel()):
        raise ConfigurationError(
            f"path.evaluate(times) for {times.numel()} times must have shape (batch={batch}, {times.numel()}, "
            f"channels) (a torchcde interpolation), got {tuple(values.shape)}."
        )
    return values.transpose(0, 1)


def path_increments(path, grid: StepGrid, batch: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Increments ``X(t_{n+1}) - X(t_n)`` of a torchcde-style path over every step of ``grid``, one evaluation."""
    values = path_values(path, grid.times_on(dtype, device), batch)
    return values[1:] - values[:-1]

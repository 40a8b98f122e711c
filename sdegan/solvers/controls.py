"""Controls: what drives a controlled vector field over each step of a grid."""

from __future__ import annotations

import abc
from typing import Callable, Optional

import torch
from torch import Tensor

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


def path_increments(path, grid: StepGrid) -> Tensor:
    """Increments of a torchcde-style path (anything with ``evaluate(t)``) over every step of ``grid``."""
    values = torch.stack([path.evaluate(t) for t in grid.times_tensor])
    return values[1:] - values[:-1]

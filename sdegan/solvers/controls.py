"""Controls: what drives a controlled vector field over each step of a grid.

A solver step receives a :class:`StepControl` (``None`` for ODEs) and asks it for the control a stage at
fraction ``c`` of the step sees, ``dX_c``:

- :class:`Increment`: the same increment ``X(t_{n+1}) - X(t_n)`` for every stage: Brownian increments, and
  linear interpolations (exact when their knots lie on the step grid, and cheaper);
- :class:`StageDerivatives`: ``h X'(t_n + c h)`` for each stage (as torchcde does), for paths that are not
  piecewise linear on the grid (natural cubic splines, Hermite cubics), so every method keeps its order.
"""

from __future__ import annotations

import abc
from typing import Callable, Optional, Sequence

import torch
import torchcde
from torch import Tensor, nn

from sdegan.errors import ConfigurationError
from sdegan.solvers.grid import StepGrid


class StepControl(abc.ABC):
    """The control of one step, as its stages see it. ``tensor`` is what gradients with respect to it have
    the shape of; :meth:`with_tensor` rebuilds the control around another tensor of that shape (a leaf)."""

    tensor: Tensor

    @abc.abstractmethod
    def at(self, c: float) -> Tensor:
        """The control increment a stage at fraction ``c`` of the step uses (scaled by the step)."""

    @abc.abstractmethod
    def reversed(self) -> "StepControl":
        """The control of the same step walked backwards (``h`` negated; fractions from its end)."""

    @abc.abstractmethod
    def with_tensor(self, tensor: Tensor) -> "StepControl":
        """The same control around ``tensor`` (reversal kept, applied inside the autograd graph)."""

    @abc.abstractmethod
    def gradient(self, stage_gradients: dict[float, Tensor]) -> Tensor:
        """The gradient with respect to :attr:`tensor` from the gradients of :meth:`at`'s outputs by fraction."""


class Increment(StepControl):
    """One increment used by every stage (negated when reversed)."""

    def __init__(self, increment: Tensor, negated: bool = False):
        self.tensor = increment
        self.negated = negated
        self._value = -increment if negated else increment  # one tensor object: products cache on it

    def at(self, c: float) -> Tensor:
        return self._value

    def reversed(self) -> "Increment":
        return Increment(self.tensor, not self.negated)

    def with_tensor(self, tensor: Tensor) -> "Increment":
        return Increment(tensor, self.negated)

    def gradient(self, stage_gradients: dict[float, Tensor]) -> Tensor:
        total = sum(stage_gradients.values())
        return -total if self.negated else total


class StageDerivatives(StepControl):
    """``h X'(t_n + f h)`` for the solver's stage fractions ``f``: ``tensor`` is ``(fractions, batch, channels)``.

    Reversed, a stage at fraction ``c`` from the step's end sits at ``1 - c`` from its start and sees
    ``-h X'``.
    """

    def __init__(self, values: Tensor, index: dict[float, int], negated: bool = False):
        self.tensor = values
        self.index = index
        self.negated = negated

    def _row(self, c: float) -> int:
        return self.index[1.0 - c if self.negated else c]

    def at(self, c: float) -> Tensor:
        value = self.tensor[self._row(c)]
        return -value if self.negated else value

    def reversed(self) -> "StageDerivatives":
        return StageDerivatives(self.tensor, self.index, not self.negated)

    def with_tensor(self, tensor: Tensor) -> "StageDerivatives":
        return StageDerivatives(tensor, self.index, self.negated)

    def gradient(self, stage_gradients: dict[float, Tensor]) -> Tensor:
        first = next(iter(stage_gradients.values()))  # (batch, channels), or fewer rows (CDEVectorField)
        total = first.new_zeros((self.tensor.size(0), *first.shape))
        for c, grad in stage_gradients.items():
            total[self._row(c)] += -grad if self.negated else grad
        return total


def stage_control(control: Optional[StepControl], c: float) -> Optional[Tensor]:
    """``control.at(c)``, or ``None`` without a control (ODEs)."""
    return None if control is None else control.at(c)


def reversed_control(control: Optional[StepControl]) -> Optional[StepControl]:
    """``control.reversed()``, or ``None`` without a control (ODEs)."""
    return None if control is None else control.reversed()


class Control(abc.ABC):
    """The controls of every step of a grid."""

    @abc.abstractmethod
    def increment(self, n: int) -> Optional[StepControl]:
        """The control of step ``n`` (``None`` when there is no control)."""


class NoControl(Control):
    """For ODEs."""

    def increment(self, n: int) -> None:
        return None


class BrownianControl(Control):
    """Brownian increments queried from a Brownian object ``bm(ta, tb)``; regenerated, never stored."""

    def __init__(self, brownian: Callable[[float, float], Tensor], grid: StepGrid):
        self.brownian = brownian
        self.grid = grid

    def increment(self, n: int) -> Increment:
        return Increment(self.brownian(self.grid.times[n], self.grid.times[n + 1]))


class PathControl(Control):
    """The controls of a data path on a grid, from one vectorised evaluation of the path.

    Over a :class:`torchcde.LinearInterpolation` every step gets its increment; over any other path every
    stage its ``h X'`` at its own time (``fractions``: the solver's stage fractions). ``steps`` holds them all,
    ``(num_steps, batch, channels)`` or ``(num_steps, fractions, batch, channels)``; it is differentiable in
    the path's coefficients when computed with autograd on, and recomputed (never stored) by reversible
    backward passes.
    """

    def __init__(self, path, grid: StepGrid, fractions: Sequence[float], batch: int, dtype: torch.dtype,
                 device: torch.device):
        self.path, self.grid, self.batch, self.dtype, self.device = path, grid, batch, dtype, device
        self.uses_increments = isinstance(path, torchcde.LinearInterpolation)
        self.fractions = tuple(sorted(set(fractions)))
        self.index = {c: i for i, c in enumerate(self.fractions)}
        # Knots exactly the step times (one comparison per solve): increments straight from the coefficients.
        self.knots_are_steps = type(path) is torchcde.LinearInterpolation and torch.equal(
            path.grid_points, self.grid.times_on(path.grid_points.dtype, path.grid_points.device)
        )
        self.steps = self.evaluate()

    def evaluate(self) -> Tensor:
        """The controls of every step (one call of ``path.evaluate`` or ``path.derivative``, or, for a linear
        interpolation whose knots are the step times, a few elementwise operations on its coefficients)."""
        if self.knots_are_steps:
            return knot_increments(self.path.grid_points, self.path._coeffs)
        times = self.grid.times_on(self.dtype, self.device)
        if self.uses_increments:
            values = path_values(self.path.evaluate, times, self.batch)
            return values[1:] - values[:-1]
        steps = self.grid.constant(self.grid.step_sizes, self.dtype, self.device)
        fractions = self.grid.constant(self.fractions, self.dtype, self.device)
        stage_times = (times[:-1, None] + fractions * steps[:, None]).flatten()
        derivatives = path_values(self.path.derivative, stage_times, self.batch)
        derivatives = derivatives.view(len(steps), len(fractions), self.batch, -1)
        return derivatives * steps.view(-1, 1, 1, 1)

    @property
    def channels(self) -> int:
        return self.steps.size(-1)

    def increment(self, n: int) -> StepControl:
        return self.step_control(self.steps[n])

    def step_control(self, tensor: Tensor) -> StepControl:
        """A step's control around its row of :attr:`steps`."""
        return Increment(tensor) if self.uses_increments else StageDerivatives(tensor, self.index)


    def differentiable_tensors(self) -> tuple[Tensor, ...]:
        """The path's tensors requiring gradients that its controls depend on (found from one evaluation at
        one time): the inputs through which a reversible backward pass returns the path's gradients."""
        tensors = self.path.buffers() if isinstance(self.path, nn.Module) else vars(self.path).values()
        candidates = tuple(t for t in tensors if isinstance(t, Tensor) and t.requires_grad)
        if not candidates:
            return ()
        with torch.enable_grad():
            first = self.grid.times_on(self.dtype, self.device)[:1]
            probe = (self.path.evaluate if self.uses_increments else self.path.derivative)(first)
            used = torch.autograd.grad(probe.sum(), candidates, allow_unused=True)
        return tuple(t for t, grad in zip(candidates, used) if grad is not None)


def knot_increments(knots: Tensor, coefficients: Tensor) -> Tensor:
    """``X(t_{n+1}) - X(t_n)`` over consecutive knots of the linear interpolation ``X`` of ``coefficients``
    ``(batch, knots, channels)``, shape ``(knots - 1, batch, channels)``.

    Bit-identical to differencing ``torchcde.LinearInterpolation(coefficients, knots).evaluate(knots)``: the same
    arithmetic (the value at knot ``i >= 1`` is interpolated from knot ``i - 1``, at knot 0 from itself), without
    its bucketing and gathers (slow at large batches)."""
    spacing = (knots[1:] - knots[:-1]).unsqueeze(-1)
    previous, differences = coefficients[:, :-1], coefficients[:, 1:] - coefficients[:, :-1]
    first = coefficients[:, :1] + (knots[:1] - knots[:1]).unsqueeze(-1) * differences[:, :1] / spacing[:1]
    values = torch.cat([first, previous + spacing * differences / spacing], dim=1)
    return (values[:, 1:] - values[:, :-1]).transpose(0, 1)


def path_values(evaluate: Callable[[Tensor], Tensor], times: Tensor, batch: int) -> Tensor:
    """``evaluate(times)`` of a torchcde-style path at a 1-D tensor of times, ``(len(times), batch, channels)``.

    Every torchcde interpolation evaluates many times at once, returning ``(batch, len(times), channels)``.
    """
    values = evaluate(times)
    if values.dim() != 3 or values.shape[:2] != (batch, times.numel()):
        raise ConfigurationError(
            f"path.evaluate/derivative(times) for {times.numel()} times must have shape (batch={batch}, "
            f"{times.numel()}, channels) (a torchcde interpolation), got {tuple(values.shape)}."
        )
    return values.transpose(0, 1)

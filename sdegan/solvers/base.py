"""Abstract bases of the fixed-step solvers implemented here.

A solver declares what it is as class attributes (orders, SDE types, noise types, reversibility) and
implements one step. A reversible solver also implements its exact algebraic backward pass: given the state
after a step and the adjoints of that state, it reconstructs the state before the step and the adjoints
there, with no stored trajectory.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import ClassVar, Optional, Sequence

import torch
from torch import Tensor

from sdegan.solvers.controls import StepControl
from sdegan.solvers.vector_fields import NOISE_TYPES, ControlledVectorField

State = tuple  # a solver's state; its first entry is always the solution y


class Solver(abc.ABC):
    """A fixed-step solver for ``dy = f dt + g dX``.

    Class attributes:
        name: the method name used by ``sdeint``/``cdeint``/``odeint``.
        ode_order: order of convergence on ODEs (and CDEs driven by smooth paths).
        strong_order: strong order on SDEs with general noise and with additive noise.
        sde_types: the SDE interpretations it converges to.
        noise_types: the torchsde noise types it handles.
        reversible: whether it supports ``gradient="reversible"``.
    """

    name: ClassVar[str]
    ode_order: ClassVar[int]
    strong_order: ClassVar[float]
    strong_order_additive: ClassVar[float]
    sde_types: ClassVar[tuple[str, ...]] = ("stratonovich",)
    noise_types: ClassVar[tuple[str, ...]] = NOISE_TYPES
    reversible: ClassVar[bool] = False

    def __init__(self, vector_field: ControlledVectorField):
        self.vector_field = vector_field

    @abc.abstractmethod
    def initial_state(self, t0: Tensor, y0: Tensor) -> State:
        """The solver state at the initial time."""

    @classmethod
    def control_fractions(cls) -> tuple[float, ...]:
        """The fractions of a step at which its stages see the control (for controls given per stage)."""
        return (0.0, 1.0)

    @abc.abstractmethod
    def step(self, t0: Tensor, t1: Tensor, h: float, state: State, dx: Optional[StepControl]) -> State:
        """One step from ``t0`` to ``t1 = t0 + h`` with the step's control ``dx``; differentiable."""


@dataclass
class BackwardCarry:
    """What a reversible backward pass carries from step to step.

    Attributes:
        state: the reconstructed solver state at the current time (detached tensors, plus solver extras).
        adjoint_y: the adjoint of the solution y at the current time (output gradients are added to it).
        adjoint_params: accumulated gradients of the vector field's parameters (start them at zero with
            :func:`zero_parameter_gradients`).
        extras: solver-specific adjoints and live evaluations.
    """

    state: State
    adjoint_y: Tensor
    adjoint_params: list[Tensor]
    extras: dict = field(default_factory=dict)

    def add_parameter_gradients(self, grads: Sequence[Optional[Tensor]], sign: float = 1.0) -> None:
        """Adds ``sign * grads`` to the accumulated parameter gradients (``None`` entries are zero)."""
        pairs = [(total, grad) for total, grad in zip(self.adjoint_params, grads) if grad is not None]
        if pairs:
            totals, new = zip(*pairs)
            torch._foreach_add_(list(totals), list(new), alpha=sign)  # one fused op for all parameters


def zero_parameter_gradients(parameters: Sequence[Tensor]) -> list[Tensor]:
    """Fresh zero accumulators for the gradients of ``parameters``."""
    return [torch.zeros_like(p) for p in parameters]


class ReversibleSolver(Solver):
    """A solver whose step can be inverted exactly, giving gradients in memory independent of the steps."""

    reversible: ClassVar[bool] = True

    @abc.abstractmethod
    def terminal_state(self, state: State) -> tuple[Tensor, ...]:
        """The tensors to keep after the forward pass (O(1) memory) to start the backward pass."""

    @abc.abstractmethod
    def backward_start(self, t: Tensor, saved: tuple[Tensor, ...], adjoint_y: Tensor) -> BackwardCarry:
        """Starts the backward pass at the final time from :meth:`terminal_state`'s tensors."""

    @abc.abstractmethod
    def backward_step(
        self, t0: Tensor, t1: Tensor, h: float, carry: BackwardCarry, dx: Optional[StepControl], want_dx: bool
    ) -> tuple[BackwardCarry, Optional[Tensor]]:
        """Reconstructs the state at ``t0`` from the one at ``t1`` and propagates the adjoints.

        Returns the carry at ``t0`` and, if ``want_dx``, the gradient with respect to ``dx.tensor``.
        """

    @abc.abstractmethod
    def backward_finish(self, carry: BackwardCarry) -> Tensor:
        """Finishes the backward pass at the initial time; returns the gradient of the initial state."""

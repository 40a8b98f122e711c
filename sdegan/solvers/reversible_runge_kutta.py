"""Reversible Runge-Kutta (McCallum & Foster 2024): any explicit Runge-Kutta method made algebraically
reversible with a coupling parameter ``lambda`` in (0, 1]. With ``Psi_h`` the base method's increment:

    y_{n+1} = lambda y_n + (1 - lambda) z_n + Psi_h(t_n, z_n)
    z_{n+1} = z_n - Psi_{-h}(t_{n+1}, y_{n+1})

inverted exactly (in exact arithmetic) by

    z_n = z_{n+1} + Psi_{-h}(t_{n+1}, y_{n+1})
    y_n = (y_{n+1} - (1 - lambda) z_n - Psi_h(t_n, z_n)) / lambda

The base method's order is kept. A backward step costs two increments (re-evaluated with autograd on) and
two vector-Jacobian products. For controlled equations ``Psi_{-h}`` walks the step's control backwards
(the negated increment; for smooth paths ``-h X'`` at its stage times ``t_{n+1} - c_i h``).
"""

from __future__ import annotations

from typing import ClassVar, Optional

import torch
from torch import Tensor

from sdegan.solvers.base import BackwardCarry, ReversibleSolver, State, zero_parameter_gradients
from sdegan.solvers.controls import StepControl, reversed_control
from sdegan.solvers.runge_kutta import TABLEAUS, ButcherTableau, runge_kutta_increment, stratonovich_noise_types
from sdegan.solvers.vector_fields import ControlledVectorField
from sdegan.errors import ConfigurationError

DEFAULT_COUPLING = 0.999


class ReversibleRungeKutta(ReversibleSolver):
    """Reversible version of an explicit Runge-Kutta method, with coupling parameter ``coupling``."""

    tableau: ClassVar[ButcherTableau]
    strong_order = 0.5
    strong_order_additive = 1.0

    def __init__(self, vector_field: ControlledVectorField, coupling: Optional[float] = None):
        super().__init__(vector_field)
        coupling = DEFAULT_COUPLING if coupling is None else float(coupling)
        if not 0.0 < coupling <= 1.0:
            raise ConfigurationError(f"coupling must lie in (0, 1], got {coupling}.")
        self.coupling = coupling

    @classmethod
    def control_fractions(cls) -> tuple[float, ...]:
        return tuple(sorted({*cls.tableau.c, *(1.0 - c for c in cls.tableau.c)}))

    def _increment(self, t: Tensor, y: Tensor, h: float, dx: Optional[StepControl]) -> Tensor:
        return runge_kutta_increment(self.vector_field, self.tableau, t, y, h, dx)

    def initial_state(self, t0: Tensor, y0: Tensor) -> State:
        return y0, y0

    def step(self, t0: Tensor, t1: Tensor, h: float, state: State, dx: Optional[StepControl]) -> State:
        y0, z0 = state
        lam = self.coupling
        y1 = lam * y0 + (1 - lam) * z0 + self._increment(t0, z0, h, dx)
        z1 = z0 - self._increment(t1, y1, -h, reversed_control(dx))
        return y1, z1

    def terminal_state(self, state: State) -> tuple[Tensor, ...]:
        return state

    def backward_start(self, t: Tensor, saved: tuple[Tensor, ...], adjoint_y: Tensor) -> BackwardCarry:
        return BackwardCarry(
            state=saved,
            adjoint_y=adjoint_y,
            adjoint_params=zero_parameter_gradients(self.vector_field.parameters),
            extras=dict(adjoint_z=torch.zeros_like(adjoint_y)),
        )

    def _increment_and_vjp(
        self, t: Tensor, y: Tensor, h: float, dx: Optional[StepControl], adjoint: Tensor, want_dx: bool,
        reverse: bool = False,
    ) -> tuple[Tensor, Tensor, tuple[Optional[Tensor], ...], Optional[Tensor]]:
        """Returns ``Psi_h(t, y)`` (``dx`` walked backwards if ``reverse``) and its VJPs with ``adjoint`` w.r.t.
        y, the parameters and (if wanted) ``dx.tensor``."""
        y_leaf = y.detach().requires_grad_(True)
        dx_leaf = None if dx is None else dx.tensor.detach().requires_grad_(want_dx)
        with torch.enable_grad():
            control = None if dx is None else dx.with_tensor(dx_leaf)
            increment = self._increment(t, y_leaf, h, reversed_control(control) if reverse else control)
        inputs = (y_leaf,) + self.vector_field.parameters + ((dx_leaf,) if want_dx else ())
        grads = torch.autograd.grad(increment, inputs, adjoint, allow_unused=True)
        params_end = 1 + len(self.vector_field.parameters)
        adjoint_dx = grads[params_end] if want_dx else None
        adjoint_y = grads[0] if grads[0] is not None else torch.zeros_like(y)
        return increment.detach(), adjoint_y, grads[1:params_end], adjoint_dx

    def backward_step(
        self, t0: Tensor, t1: Tensor, h: float, carry: BackwardCarry, dx: Optional[StepControl], want_dx: bool
    ) -> tuple[BackwardCarry, Optional[Tensor]]:
        lam = self.coupling
        y1, z1 = carry.state
        adjoint_y1, adjoint_z1 = carry.adjoint_y, carry.extras["adjoint_z"]

        # z1 = z0 - Psi_{-h}(t1, y1), the control walked backwards
        backward_increment, vjp_y1, vjp_params, vjp_dx = self._increment_and_vjp(
            t1, y1, -h, dx, adjoint_z1, want_dx, reverse=True
        )
        z0 = z1 + backward_increment
        adjoint_y1 = adjoint_y1 - vjp_y1
        carry.add_parameter_gradients(vjp_params, sign=-1.0)
        adjoint_dx = -vjp_dx if want_dx else None  # z1 depends on -Psi

        # y1 = lam y0 + (1 - lam) z0 + Psi_h(t0, z0)
        forward_increment, vjp_z0, vjp_params, vjp_dx = self._increment_and_vjp(
            t0, z0, h, dx, adjoint_y1, want_dx
        )
        y0 = (y1 - (1 - lam) * z0 - forward_increment) / lam
        carry.add_parameter_gradients(vjp_params)
        if want_dx:
            adjoint_dx = adjoint_dx + vjp_dx

        carry.state = (y0, z0)
        carry.adjoint_y = lam * adjoint_y1
        carry.extras["adjoint_z"] = adjoint_z1 + (1 - lam) * adjoint_y1 + vjp_z0
        return carry, adjoint_dx

    def backward_finish(self, carry: BackwardCarry) -> Tensor:
        return carry.adjoint_y + carry.extras["adjoint_z"]


def _reversible_solver(base: str) -> type[ReversibleRungeKutta]:
    tableau = TABLEAUS[base]
    attributes = dict(
        name=f"reversible_{base}",
        tableau=tableau,
        ode_order=tableau.order,
        noise_types=stratonovich_noise_types(base),
        __doc__=f"Reversible {base} (McCallum & Foster), ODE order {tableau.order}, with a coupling parameter.",
    )
    return type(f"Reversible{base.capitalize()}", (ReversibleRungeKutta,), attributes)


ReversibleEuler = _reversible_solver("euler")
ReversibleMidpoint = _reversible_solver("midpoint")
ReversibleRalston3 = _reversible_solver("ralston3")
ReversibleRK4 = _reversible_solver("rk4")

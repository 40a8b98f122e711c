"""Explicit Runge-Kutta methods for controlled equations, the bases of the reversible Runge-Kutta family.

For ``dy = f dt + g dX`` over a step ``h`` stage ``i`` uses the control its step gives at fraction ``c_i``
(``k_i = f(t + c_i h, Y_i) h + g(t + c_i h, Y_i) dX_{c_i}``): the same increment ``dX`` for every stage for
Brownian motion (converging to the Stratonovich solution) and linear interpolations (exact when their knots
lie on the step grid), ``h X'(t + c_i h)`` for smooth paths, so the method keeps its order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from torch import Tensor

from sdegan.solvers.base import Solver, State
from sdegan.solvers.controls import StepControl, stage_control
from sdegan.solvers.vector_fields import NOISE_TYPES, ControlledVectorField


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit Butcher tableau: ``a`` strictly lower triangular (rows of previous-stage weights)."""

    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    order: int


TABLEAUS: dict[str, ButcherTableau] = {
    "euler": ButcherTableau(a=((),), b=(1.0,), c=(0.0,), order=1),
    "midpoint": ButcherTableau(a=((), (0.5,)), b=(0.0, 1.0), c=(0.0, 0.5), order=2),
    "ralston3": ButcherTableau(
        a=((), (0.5,), (0.0, 0.75)), b=(2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0), c=(0.0, 0.5, 0.75), order=3
    ),
    "rk4": ButcherTableau(
        a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
        b=(1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0),
        c=(0.0, 0.5, 0.5, 1.0),
        order=4,
    ),
}


def runge_kutta_increment(
    field: ControlledVectorField, tableau: ButcherTableau, t: Tensor, y: Tensor, h: float, dx: Optional[StepControl]
) -> Tensor:
    """The increment ``Psi_h(t, y)`` of one Runge-Kutta step (``h`` may be negative, with ``dx`` reversed)."""
    stages: list[Tensor] = []
    for a_row, c in zip(tableau.a, tableau.c):
        stage_y = y
        for weight, stage in zip(a_row, stages):
            if weight != 0.0:
                stage_y = stage_y + weight * stage
        stage_t = t + c * h if c != 0.0 else t
        stages.append(field.increment(field.evaluate(stage_t, stage_y), h, stage_control(dx, c)))
    out = None
    for weight, stage in zip(tableau.b, stages):
        if weight != 0.0:
            out = weight * stage if out is None else out + weight * stage
    return out


def stratonovich_noise_types(base: str) -> tuple[str, ...]:
    """Noise types for which the base method converges to the Stratonovich solution.

    Euler converges to the Ito solution, which equals the Stratonovich one only for additive noise.
    """
    return ("additive",) if base == "euler" else NOISE_TYPES


class ExplicitRungeKutta(Solver):
    """A plain (non-reversible) explicit Runge-Kutta solver; gradients by direct backpropagation."""

    tableau: ClassVar[ButcherTableau]
    strong_order = 0.5
    strong_order_additive = 1.0

    def initial_state(self, t0: Tensor, y0: Tensor) -> State:
        return (y0,)

    @classmethod
    def control_fractions(cls) -> tuple[float, ...]:
        return cls.tableau.c

    def step(self, t0: Tensor, t1: Tensor, h: float, state: State, dx: Optional[StepControl]) -> State:
        (y0,) = state
        return (y0 + runge_kutta_increment(self.vector_field, self.tableau, t0, y0, h, dx),)


def _plain_solver(base: str) -> type[ExplicitRungeKutta]:
    tableau = TABLEAUS[base]
    attributes = dict(
        name=base,
        tableau=tableau,
        ode_order=tableau.order,
        noise_types=stratonovich_noise_types(base),
        __doc__=f"Explicit {base} (order {tableau.order}); non-reversible, direct backpropagation only.",
    )
    return type(f"{base.capitalize()}Solver", (ExplicitRungeKutta,), attributes)


EulerSolver = _plain_solver("euler")
MidpointSolver = _plain_solver("midpoint")
Ralston3Solver = _plain_solver("ralston3")
RK4Solver = _plain_solver("rk4")

"""The adapter for this package's own fixed-step solvers: reversible Heun, the reversible Runge-Kutta family
and the plain Runge-Kutta bases (CDEs and ODEs).

Gradients: ``"direct"`` backpropagates through the steps; for reversible methods ``"reversible"`` and
``"adjoint"`` both run the exact discrete adjoint of the forward discretisation, reconstructing the states
backwards in O(1) memory (for reversible Heun this is what torchsde's ``adjoint_reversible_heun`` computes,
here on the same grid as the forward pass). All three agree to round-off on every grid.
"""

from __future__ import annotations

import contextlib
from typing import Any, Optional, Sequence

import torch
from torch import Tensor

from sdegan.solvers.backends import Backend, MethodInfo
from sdegan.solvers.base import Solver
from sdegan.solvers.controls import BrownianControl, NoControl, PathControl
from sdegan.solvers.grid import StepGrid
from sdegan.solvers.integrate import integrate_direct, integrate_reversible
from sdegan.solvers.reversible_heun import ReversibleHeun
from sdegan.solvers.reversible_runge_kutta import (
    ReversibleEuler,
    ReversibleMidpoint,
    ReversibleRalston3,
    ReversibleRK4,
    ReversibleRungeKutta,
)
from sdegan.solvers.runge_kutta import EulerSolver, MidpointSolver, Ralston3Solver, RK4Solver
from sdegan.solvers.vector_fields import ControlledVectorField

REVERSIBLE_SOLVERS: dict[str, type[Solver]] = {
    cls.name: cls for cls in (ReversibleHeun, ReversibleEuler, ReversibleMidpoint, ReversibleRalston3, ReversibleRK4)
}
PLAIN_SOLVERS: dict[str, type[Solver]] = {
    cls.name: cls for cls in (EulerSolver, MidpointSolver, Ralston3Solver, RK4Solver)
}
REVERSIBLE_GRADIENTS = ("direct", "reversible", "adjoint")


def make_solver(method: str, vector_field: ControlledVectorField, coupling: Optional[float]) -> Solver:
    """An instance of one of this package's solvers (``coupling`` for ``reversible_<base>`` only)."""
    cls = {**PLAIN_SOLVERS, **REVERSIBLE_SOLVERS}[method]
    return cls(vector_field, coupling) if issubclass(cls, ReversibleRungeKutta) else cls(vector_field)


def has_coupling(method: str) -> bool:
    """Whether ``method`` is a ``reversible_<base>`` method with a coupling parameter."""
    cls = REVERSIBLE_SOLVERS.get(method)
    return cls is not None and issubclass(cls, ReversibleRungeKutta)


class SdeganBackend(Backend):
    """This package's solvers, on the spec's step grid."""

    name = "sdegan"

    def rows(self, problem: str) -> list[MethodInfo]:
        rows = []
        for name, cls in REVERSIBLE_SOLVERS.items():
            if problem == "sde":
                order = f"{cls.strong_order} / {cls.strong_order_additive}"
                rows.append(MethodInfo(name, self.name, problem, REVERSIBLE_GRADIENTS, True, False, cls.sde_types,
                                       cls.noise_types, order))
            else:
                rows.append(MethodInfo(name, self.name, problem, REVERSIBLE_GRADIENTS, True, order=str(cls.ode_order)))
        if problem != "sde":
            rows += [MethodInfo(name, self.name, problem, ("direct",), order=str(cls.ode_order))
                     for name, cls in PLAIN_SOLVERS.items()]
        return rows

    def _integrate(self, spec, solver: Solver, y0: Tensor, grid: StepGrid, control, tensors=()) -> Tensor:
        if spec.gradient == "direct":
            return integrate_direct(solver, y0, grid, control)
        return integrate_reversible(solver, y0, grid, control, tensors)

    def solve_sde(self, spec, field, y0: Tensor, grid: StepGrid, brownian: Any) -> Tensor:
        solver = make_solver(spec.method, field, spec.coupling)
        return self._integrate(spec, solver, y0, grid, BrownianControl(brownian, grid))

    def solve_cde(self, spec, field, z0: Tensor, path: Any, grid: StepGrid, adjoint_params: Sequence[Tensor]) -> Tensor:
        solver = make_solver(spec.method, field, spec.coupling)
        reversible = spec.gradient != "direct"
        with torch.no_grad() if reversible else contextlib.nullcontext():  # reversible: recomputed in backward
            control = PathControl(path, grid, solver.control_fractions(), z0.size(0), z0.dtype, z0.device)
        field.expect_state(z0, control.channels)
        return self._integrate(spec, solver, z0, grid, control, control.differentiable_tensors() if reversible else ())

    def solve_ode(self, spec, field, y0: Tensor, grid: StepGrid, adjoint_params: Sequence[Tensor]) -> Tensor:
        field.expect_state(y0)
        solver = make_solver(spec.method, field, spec.coupling)
        return self._integrate(spec, solver, y0, grid, NoControl())

"""The adapter for torchsde's fixed-step SDE solvers (euler, milstein, srk, midpoint, heun, euler_heun,
log_ode), stepped on this package's step grid.

torchsde's own loop builds its grid by repeated addition of ``dt`` and interpolates linearly to output
times that are not on it; here its solvers' ``step`` is called on the spec's grid instead, so every
output time is a step time and the discretisation is the one the grid says. Gradients: ``"direct"`` only.
torchsde's continuous adjoint solves a different (adjoint) equation on its own grid, so its gradient is
not the gradient of this discretisation; it is refused (reversible Heun offers an exact adjoint).
"""

from __future__ import annotations

from typing import Any, Optional

from torch import Tensor
from torchsde._core import base_sde
from torchsde._core import methods as torchsde_methods

from sdegan.solvers.backends import Backend, MethodInfo
from sdegan.solvers.base import Solver, State
from sdegan.solvers.controls import Control
from sdegan.solvers.grid import StepGrid
from sdegan.solvers.integrate import integrate_direct
from sdegan.solvers.vector_fields import SDEVectorField

TORCHSDE_METHODS = ("euler", "milstein", "srk", "midpoint", "heun", "euler_heun", "log_ode")
_LEVY_AREAS = {"srk": "space-time", "log_ode": "foster"}


class _FieldAsSDE:
    """What torchsde's solvers call: ``f_and_g`` of the vector field (so its shape contract applies), and the
    module's own ``f`` and ``g`` for the methods that evaluate one alone."""

    def __init__(self, field: SDEVectorField):
        self.sde_type, self.noise_type = field.sde_type, field.noise_type
        self.f_and_g = field.evaluate
        self.f = getattr(field.sde, "f", lambda t, y: field.evaluate(t, y)[0])
        self.g = getattr(field.sde, "g", lambda t, y: field.evaluate(t, y)[1])


class _StepBrownian:
    """The Brownian motion as torchsde's solvers query it, answered at the grid's float times of the current
    step (the solvers pass tensor times; floats keep the queries bit-identical and free of host syncs)."""

    def __init__(self, brownian: Any):
        self.brownian = brownian
        self.shape = getattr(brownian, "shape", None)
        self.levy_area_approximation = getattr(brownian, "levy_area_approximation", "none")
        self.interval: tuple[float, float] = (0.0, 0.0)

    def __call__(self, ta, tb=None, return_U: bool = False, return_A: bool = False):
        start, end = self.interval
        if return_U or return_A:
            return self.brownian(start, end, return_U=return_U, return_A=return_A)
        return self.brownian(start, end)


class _GridTimes(Control):
    """Hands each step its float times (the torchsde solver draws its own Brownian increments)."""

    def __init__(self, grid: StepGrid):
        self.grid = grid

    def increment(self, n: int) -> tuple[float, float]:
        return self.grid.times[n], self.grid.times[n + 1]


class TorchsdeStepper(Solver):
    """One torchsde solver driven step by step; state ``(y, torchsde's extra state)``."""

    def __init__(self, method: str, field: SDEVectorField, brownian: Any, dt: Optional[float], options: dict):
        super().__init__(field)
        self.brownian = _StepBrownian(brownian)
        sde = base_sde.ForwardSDE(_FieldAsSDE(field))
        solver_class = torchsde_methods.select(method=method, sde_type=field.sde_type)
        self.solver = solver_class(sde=sde, bm=self.brownian, dt=dt, adaptive=False, rtol=0.0, atol=0.0,
                                   dt_min=0.0, options=dict(options))

    def initial_state(self, t0: Tensor, y0: Tensor) -> State:
        return y0, self.solver.init_extra_solver_state(t0, y0)

    def step(self, t0: Tensor, t1: Tensor, h: float, state: State, dx: Any) -> State:
        self.brownian.interval = dx
        y1, extra = self.solver.step(t0, t1, state[0], state[1])
        return y1, extra


class TorchsdeBackend(Backend):
    """torchsde's fixed-step solvers on the spec's grid; direct backpropagation."""

    name = "torchsde"
    option_names = ("grad_free",)  # torchsde's solver option: milstein's derivative-free form

    def rows(self, problem: str) -> list[MethodInfo]:
        if problem != "sde":
            return []
        rows = []
        for name in TORCHSDE_METHODS:
            classes = {torchsde_methods.select(name, sde_type) for sde_type in ("ito", "stratonovich")}
            sde_types = tuple(sorted({cls.sde_type for cls in classes}))
            cls = next(iter(classes))
            strong = getattr(cls, "strong_order", None)
            order = f"{strong}" if isinstance(strong, float) else "0.5 / 1.0"
            rows.append(MethodInfo(name, self.name, "sde", ("direct",), sde_types=sde_types,
                                   noise_types=tuple(cls.noise_types), order=order,
                                   levy_area=_LEVY_AREAS.get(name, "none")))
        return rows

    def solve_sde(self, spec, field, y0: Tensor, grid: StepGrid, brownian: Any) -> Tensor:
        stepper = TorchsdeStepper(spec.method, field, brownian, spec.dt, spec.options)
        return integrate_direct(stepper, y0, grid, _GridTimes(grid))

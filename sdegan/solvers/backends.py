"""The solver backends as adapters: each declares what it can do (one row per method and problem) and solves.

Three adapters are registered (see :mod:`sdegan.solvers.capabilities`): this package's own solvers,
torchsde's fixed-step SDE solvers (stepped on this package's grid) and torchdiffeq's adaptive solvers
(ODEs directly, CDEs through torchcde). A :class:`~sdegan.solvers.spec.SolveSpec` picks one at build time.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Sequence

from torch import Tensor

from sdegan.solvers.grid import StepGrid
from sdegan.solvers.vector_fields import CDEVectorField, ODEVectorField, SDEVectorField

if TYPE_CHECKING:
    from sdegan.solvers.spec import SolveSpec

GRADIENTS = ("direct", "adjoint", "reversible")
PROBLEMS = ("sde", "cde", "ode")


@dataclass(frozen=True)
class MethodInfo:
    """One row of the capabilities table.

    Attributes:
        name: the ``method`` string.
        backend: the adapter's name: ``"sdegan"`` (implemented here), ``"torchsde"`` or ``"torchdiffeq"``.
        problem: ``"sde"``, ``"cde"`` or ``"ode"``.
        gradients: the ``gradient`` values it supports.
        reversible: algebraically reversible (supports ``gradient="reversible"``).
        adaptive: adaptive step size (``rtol``/``atol``; ``dt`` unused).
        sde_types: SDE interpretations it solves (SDE rows only).
        noise_types: torchsde noise types it handles (SDE rows only).
        order: convergence order on ODEs, or the strong order on SDEs as text (general / additive noise).
        levy_area: the Levy-area approximation its Brownian motion must provide (``"none"`` for most).
    """

    name: str
    backend: str
    problem: str
    gradients: tuple[str, ...]
    reversible: bool = False
    adaptive: bool = False
    sde_types: tuple[str, ...] = ()
    noise_types: tuple[str, ...] = ()
    order: str = ""
    levy_area: str = "none"


class Backend(abc.ABC):
    """A solver backend: the methods it offers and how it solves each problem.

    Fixed-step backends receive the step grid (built once by the spec for its fixed times); adaptive ones
    receive the output times as a tensor.
    """

    name: str
    option_names: tuple[str, ...] = ()  # solver options a user may pass through ``options``

    @abc.abstractmethod
    def rows(self, problem: str) -> list[MethodInfo]:
        """The methods this backend offers for ``problem`` (empty if none)."""

    def solve_sde(
        self, spec: "SolveSpec", field: SDEVectorField, y0: Tensor, grid: StepGrid, brownian: Any
    ) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no SDE solver")

    def solve_cde(
        self, spec: "SolveSpec", field: CDEVectorField, z0: Tensor, path: Any, grid: StepGrid,
        adjoint_params: Sequence[Tensor],
    ) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no CDE solver")

    def solve_ode(
        self, spec: "SolveSpec", field: ODEVectorField, y0: Tensor, grid: StepGrid,
        adjoint_params: Sequence[Tensor],
    ) -> Tensor:
        raise NotImplementedError(f"backend {self.name} has no ODE solver")

    def check_options(self, info: MethodInfo, options: dict, gradient: str) -> Optional[str]:
        """Returns why ``options`` do not fit (``None`` if they do)."""
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            valid = ", ".join(self.option_names) or "none"
            return f"unknown solver options {unknown} for method={info.name!r} ({self.name}); valid options: {valid}."
        return None

"""What every method can do, and the checks that reject combinations that make no sense.

Methods come from three places: the solvers implemented here (reversible Heun, the reversible Runge-Kutta
family and plain Runge-Kutta bases for CDEs/ODEs), torchsde's fixed-step SDE solvers, and torchdiffeq's
adaptive ODE solvers (used for ODEs and, through torchcde, CDEs).
"""

from __future__ import annotations

import functools

from dataclasses import dataclass
from typing import Optional

from torchsde._core import methods as torchsde_methods

from sdegan.solvers.base import Solver
from sdegan.solvers.brownian import BROWNIANS
from sdegan.solvers.reversible_heun import ReversibleHeun
from sdegan.solvers.reversible_runge_kutta import (
    ReversibleRungeKutta,
    ReversibleEuler,
    ReversibleMidpoint,
    ReversibleRalston3,
    ReversibleRK4,
)
from sdegan.solvers.runge_kutta import EulerSolver, MidpointSolver, Ralston3Solver, RK4Solver
from sdegan.solvers.vector_fields import ControlledVectorField
from sdegan.errors import ConfigurationError

GRADIENTS = ("direct", "adjoint", "reversible")
PROBLEMS = ("sde", "cde", "ode")

REVERSIBLE_SOLVERS: dict[str, type[Solver]] = {
    cls.name: cls for cls in (ReversibleHeun, ReversibleEuler, ReversibleMidpoint, ReversibleRalston3, ReversibleRK4)
}
PLAIN_SOLVERS: dict[str, type[Solver]] = {
    cls.name: cls for cls in (EulerSolver, MidpointSolver, Ralston3Solver, RK4Solver)
}
TORCHSDE_METHODS = ("euler", "milstein", "srk", "midpoint", "heun", "euler_heun", "log_ode")
TORCHDIFFEQ_FIXED = ("euler", "midpoint", "rk4")
TORCHDIFFEQ_ADAPTIVE = {"dopri5": "5(4)", "dopri8": "8(7)", "bosh3": "3(2)", "fehlberg2": "2(1)", "adaptive_heun": "2(1)"}


@dataclass(frozen=True)
class MethodInfo:
    """One row of the capabilities table.

    Attributes:
        name: the ``method`` string.
        backend: ``"sdegan"`` (implemented here), ``"torchsde"`` or ``"torchdiffeq"``.
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


def _our_rows(problem: str) -> list[MethodInfo]:
    rows = []
    for name, cls in REVERSIBLE_SOLVERS.items():
        if problem == "sde":
            gradients = ("direct", "reversible", "adjoint") if name == "reversible_heun" else ("direct", "reversible")
            order = f"{cls.strong_order} / {cls.strong_order_additive}"
            rows.append(MethodInfo(name, "sdegan", problem, gradients, True, False, cls.sde_types, cls.noise_types, order))
        else:
            rows.append(MethodInfo(name, "sdegan", problem, ("direct", "reversible"), True, order=str(cls.ode_order)))
    if problem != "sde":
        for name, cls in PLAIN_SOLVERS.items():
            gradients = ("direct", "adjoint") if name in TORCHDIFFEQ_FIXED else ("direct",)
            rows.append(MethodInfo(name, "sdegan", problem, gradients, order=str(cls.ode_order)))
    return rows


def _torchsde_rows() -> list[MethodInfo]:
    rows = []
    for name in TORCHSDE_METHODS:
        classes = {torchsde_methods.select(name, sde_type) for sde_type in ("ito", "stratonovich")}
        sde_types = tuple(sorted({cls.sde_type for cls in classes}))
        cls = next(iter(classes))
        strong = getattr(cls, "strong_order", None)
        order = f"{strong}" if isinstance(strong, float) else "0.5 / 1.0"
        levy = {"srk": "space-time", "log_ode": "foster"}.get(name, "none")
        rows.append(
            MethodInfo(name, "torchsde", "sde", ("direct", "adjoint"), sde_types=sde_types,
                       noise_types=tuple(cls.noise_types), order=order, levy_area=levy)
        )
    return rows


def _torchdiffeq_rows(problem: str) -> list[MethodInfo]:
    return [
        MethodInfo(name, "torchdiffeq", problem, ("direct", "adjoint"), adaptive=True, order=order)
        for name, order in TORCHDIFFEQ_ADAPTIVE.items()
    ]


def capabilities(problem: str) -> dict[str, MethodInfo]:
    """The capabilities table for ``problem`` (``"sde"``, ``"cde"`` or ``"ode"``), keyed by method name."""
    if problem not in PROBLEMS:
        raise ConfigurationError(f"problem must be one of {PROBLEMS}, got {problem!r}.")
    return dict(_capability_table(problem))


@functools.lru_cache(maxsize=None)
def _capability_table(problem: str) -> tuple[tuple[str, MethodInfo], ...]:
    """Built once per problem: every solve checks its choice against it."""
    rows = _our_rows(problem) + (_torchsde_rows() if problem == "sde" else _torchdiffeq_rows(problem))
    return tuple((row.name, row) for row in rows)


def valid_choices(problem: str = "sde") -> dict[str, tuple[str, ...]]:
    """The valid ``method``, ``gradient`` and (SDEs) ``brownian`` values, for config validation."""
    table = capabilities(problem)
    choices = {"method": tuple(table), "gradient": GRADIENTS}
    if problem == "sde":
        choices["brownian"] = BROWNIANS
    return choices


def check_choice(
    problem: str,
    method: str,
    gradient: str,
    sde_type: Optional[str] = None,
    noise_type: Optional[str] = None,
) -> MethodInfo:
    """Returns the method's row, or raises ValueError naming the valid choices."""
    table = capabilities(problem)
    if method not in table:
        raise ConfigurationError(f"Unknown {problem} method {method!r}; valid methods: {', '.join(table)}.")
    info = table[method]
    if gradient not in GRADIENTS:
        raise ConfigurationError(f"Unknown gradient {gradient!r}; valid gradients: {', '.join(GRADIENTS)}.")
    if gradient not in info.gradients:
        others = [name for name, row in table.items() if gradient in row.gradients]
        raise ConfigurationError(
            f"gradient={gradient!r} is not available for method={method!r} ({problem}); valid gradients for it: "
            f"{', '.join(info.gradients)}; methods supporting {gradient!r}: {', '.join(others)}."
        )
    if sde_type is not None and sde_type not in info.sde_types:
        others = [name for name, row in table.items() if sde_type in row.sde_types and gradient in row.gradients]
        raise ConfigurationError(
            f"method={method!r} solves {'/'.join(info.sde_types)} SDEs, not {sde_type!r}; valid methods for "
            f"{sde_type} SDEs with gradient={gradient!r}: {', '.join(others)}."
        )
    if noise_type is not None and noise_type not in info.noise_types:
        others = [name for name, row in table.items() if noise_type in row.noise_types and gradient in row.gradients]
        raise ConfigurationError(
            f"method={method!r} does not handle noise_type={noise_type!r} (it handles {', '.join(info.noise_types)});"
            f" valid methods: {', '.join(others)}."
        )
    return info


def check_coupling(method: str, coupling: Optional[float]) -> None:
    """Raises ValueError if a coupling is given for a method without one."""
    if coupling is not None and not issubclass(REVERSIBLE_SOLVERS.get(method, ReversibleHeun), ReversibleRungeKutta):
        raise ConfigurationError(
            f"coupling applies only to reversible_<base> methods (reversible_euler, reversible_midpoint, "
            f"reversible_ralston3, reversible_rk4), not to method={method!r}; leave it None."
        )


def make_solver(method: str, vector_field: ControlledVectorField, coupling: Optional[float]) -> Solver:
    """An instance of one of this package's solvers (``coupling`` for ``reversible_<base>`` only)."""
    cls = {**PLAIN_SOLVERS, **REVERSIBLE_SOLVERS}[method]
    return cls(vector_field, coupling) if issubclass(cls, ReversibleRungeKutta) else cls(vector_field)


__all__ = ["MethodInfo", "capabilities", "valid_choices", "check_choice", "check_coupling", "make_solver"]

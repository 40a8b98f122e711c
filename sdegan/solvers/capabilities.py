"""What every method can do, and the checks that reject combinations that make no sense.

The table is generated from the registered backends (:data:`BACKENDS`), each declaring its methods: the
solvers implemented here (reversible Heun, the reversible Runge-Kutta family and plain Runge-Kutta bases for
CDEs/ODEs), torchsde's fixed-step SDE solvers and torchdiffeq's adaptive ODE solvers (used for ODEs and,
through torchcde, CDEs).
"""

from __future__ import annotations

import functools
from typing import Optional

from sdegan.errors import ConfigurationError
from sdegan.solvers.backends import GRADIENTS, PROBLEMS, Backend, MethodInfo
from sdegan.solvers.brownian import BROWNIANS
from sdegan.solvers.sdegan_backend import has_coupling, SdeganBackend
from sdegan.solvers.torchdiffeq_backend import TorchdiffeqBackend
from sdegan.solvers.torchsde_backend import TorchsdeBackend

BACKENDS: dict[str, Backend] = {backend.name: backend for backend in (SdeganBackend(), TorchsdeBackend(), TorchdiffeqBackend())}


def capabilities(problem: str) -> dict[str, MethodInfo]:
    """The capabilities table for ``problem`` (``"sde"``, ``"cde"`` or ``"ode"``), keyed by method name."""
    if problem not in PROBLEMS:
        raise ConfigurationError(f"problem must be one of {PROBLEMS}, got {problem!r}.")
    return dict(_capability_table(problem))


@functools.lru_cache(maxsize=None)
def _capability_table(problem: str) -> tuple[tuple[str, MethodInfo], ...]:
    """Built once per problem from the backends' declarations (the first backend to offer a name wins)."""
    table: dict[str, MethodInfo] = {}
    for backend in BACKENDS.values():
        for row in backend.rows(problem):
            table.setdefault(row.name, row)
    return tuple(table.items())


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
    """Returns the method's row, or raises ConfigurationError naming the valid choices."""
    table = capabilities(problem)
    if method not in table:
        raise ConfigurationError(f"Unknown {problem} method {method!r}; valid methods: {', '.join(table)}.")
    info = table[method]
    if gradient not in GRADIENTS:
        raise ConfigurationError(f"Unknown gradient {gradient!r}; valid gradients: {', '.join(GRADIENTS)}.")
    if gradient not in info.gradients:
        others = [name for name, row in table.items() if gradient in row.gradients]
        reason = ""
        if gradient == "adjoint" and not info.adaptive:
            reason = (" (a continuous adjoint would not give the gradient of this fixed-step discretisation; the "
                      "reversible methods' 'adjoint' is their exact discrete adjoint)")
        raise ConfigurationError(
            f"gradient={gradient!r} is not available for method={method!r} ({problem}){reason}; valid gradients "
            f"for it: {', '.join(info.gradients)}; methods supporting {gradient!r}: {', '.join(others)}."
        )
    if sde_type is not None and sde_type not in info.sde_types:
        others = [name for name, row in table.items() if sde_type in row.sde_types and gradient in row.gradients]
        raise ConfigurationError(
            f"method={method!r} solves {'/'.join(info.sde_types)} SDEs, not {sde_type!r}; valid methods for "
            f"{sde_type} SDEs with gradient={gradient!r}: {', '.join(others)}."
        )
    if noise_type is not None and noise_type not in info.noise_types:
        others = [name for name, row in table.items() if noise_type in row.noise_types and gradient in row.gradients
                  and (sde_type is None or sde_type in row.sde_types)]
        raise ConfigurationError(
            f"method={method!r} does not handle noise_type={noise_type!r} (it handles {', '.join(info.noise_types)});"
            f" valid methods: {', '.join(others)}."
        )
    return info


def check_coupling(method: str, coupling: Optional[float]) -> None:
    """Raises ConfigurationError if a coupling is given for a method without one, or lies outside (0, 1]."""
    if coupling is None:
        return
    if not has_coupling(method):
        raise ConfigurationError(
            f"coupling applies only to reversible_<base> methods (reversible_euler, reversible_midpoint, "
            f"reversible_ralston3, reversible_rk4), not to method={method!r}; leave it None."
        )
    if not 0.0 < float(coupling) <= 1.0:
        raise ConfigurationError(f"coupling must lie in (0, 1], got {coupling}.")


__all__ = ["BACKENDS", "MethodInfo", "capabilities", "valid_choices", "check_choice", "check_coupling"]

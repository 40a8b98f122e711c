"""Split the run's ``solve_options`` into keyword arguments for ``sdeint`` and ``cdeint``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sdegan.errors import ConfigurationError

__all__ = ["sde_solve_kwargs", "cde_solve_kwargs", "SOLVE_OPTION_KEYS"]

SOLVE_OPTION_KEYS = (
    "method", "gradient", "brownian", "brownian_tol", "dt", "coupling", "rtol", "atol", "norm", "grid_policy"
)
_SDE_KEYS = ("method", "gradient", "brownian", "brownian_tol", "dt", "coupling", "grid_policy")
_CDE_KEYS = ("method", "gradient", "dt", "coupling", "rtol", "atol", "norm", "grid_policy")


def _checked(options: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(options) - set(SOLVE_OPTION_KEYS)
    if unknown:
        raise ConfigurationError(
            f"unknown solve option(s) {sorted(unknown)}; valid keys: {list(SOLVE_OPTION_KEYS)}"
        )
    for key in ("method", "gradient"):
        if key not in options:
            raise ConfigurationError(f"solve_options must contain {key!r}; got keys {sorted(options)}")
    return dict(options)


def sde_solve_kwargs(options: Mapping[str, Any], *, per_path_times: bool = False) -> dict[str, Any]:
    """Keyword arguments for :func:`sdegan.solvers.sdeint` (adaptive-only keys dropped).

    ``per_path_times=True`` (the solve's output times are the paths' own observation times, or the union of
    a batch's, which no common step need divide) asks for ``grid_policy="max_step"``: every interval split
    into the fewest equal steps of size at most ``dt`` (the same steps as ``"divide"`` where ``dt`` divides).
    """
    options = _checked(options)
    kwargs = {key: options[key] for key in _SDE_KEYS if options.get(key) is not None}
    if per_path_times:
        kwargs["grid_policy"] = "max_step"
    return kwargs


def cde_solve_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for :func:`sdegan.solvers.cdeint` (Brownian keys are SDE-only)."""
    options = _checked(options)
    return {key: options[key] for key in _CDE_KEYS if options.get(key) is not None}

"""The run's ``solve_options`` (a plain dict, as built by ``sdegan.builders.build_solve_options``) turned into
the :class:`~sdegan.solvers.SolveSpec` of each problem the run solves, and one solve call for the models
that accepts either (a spec: no validation, the precomputed grid; a dict: validated and gridded per call).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Optional, Sequence, Union

import torch
from torch import nn

from sdegan.errors import ConfigurationError
from sdegan.solvers import SolveSpec

__all__ = ["SOLVE_OPTION_KEYS", "check_solve_options", "solve_spec", "solve", "solve_gradient", "SolveOptions"]

SOLVE_OPTION_KEYS = (
    "method", "gradient", "brownian", "brownian_tol", "dt", "grid_policy", "coupling", "rtol", "atol", "norm"
)
_PROBLEM_KEYS = {
    "sde": ("method", "gradient", "brownian", "brownian_tol", "dt", "grid_policy", "coupling"),
    "cde": ("method", "gradient", "dt", "grid_policy", "coupling", "rtol", "atol", "norm"),
}
SolveOptions = Union[Mapping[str, Any], SolveSpec]


def check_solve_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``options``; raises ConfigurationError for unknown keys or a missing method/gradient."""
    unknown = set(options) - set(SOLVE_OPTION_KEYS)
    if unknown:
        raise ConfigurationError(f"unknown solve option(s) {sorted(unknown)}; valid keys: {list(SOLVE_OPTION_KEYS)}")
    for key in ("method", "gradient"):
        if key not in options:
            raise ConfigurationError(f"solve_options must contain {key!r}; got keys {sorted(options)}")
    return dict(options)


def solve_spec(
    problem: str, options: Mapping[str, Any], times: Optional[torch.Tensor] = None, equation: Any = None
) -> SolveSpec:
    """The spec of one ``problem`` (``"sde"`` or ``"cde"``) of the run, its grid precomputed for ``times``.

    ``equation`` (an SDE module or class with ``sde_type``/``noise_type``) checks the method against the SDE
    now. Keys that do not apply to the problem are dropped (the Brownian keys for CDEs; tolerances and the
    adjoint norm for SDEs, whose methods are all fixed-step).
    """
    options = check_solve_options(options)
    kwargs = {key: options[key] for key in _PROBLEM_KEYS[problem] if options.get(key) is not None}
    if problem == "sde" and equation is not None:
        kwargs.update(sde_type=equation.sde_type, noise_type=equation.noise_type)
    return SolveSpec.build(problem, times=times, **kwargs)


def solve_gradient(options: SolveOptions) -> str:
    """The gradient choice of a run's spec or solve-options dict."""
    return options.gradient if isinstance(options, SolveSpec) else options["gradient"]


def solve(
    options: SolveOptions,
    problem: str,
    function: nn.Module,
    initial: torch.Tensor,
    times: torch.Tensor,
    path: Any = None,
    adjoint_params: Sequence[torch.Tensor] = (),
    path_coefficients: Optional[torch.Tensor] = None,
    per_path_times: bool = False,
    path_gradient_rows: Optional[int] = None,
) -> torch.Tensor:
    """Solves at ``times`` with a run's spec or with an options dict (validated and gridded for this call).

    A spec's precomputed grid is used when ``times`` are its fixed output times (one comparison on the
    device; ``dt`` divides their intervals, so every grid policy gives those steps); other times get their
    own grid for this solve.

    Arguments:
        per_path_times: ``times`` is the union of a batch's per-path observation times, which no common step
            need divide: the solve uses ``grid_policy="max_step"`` (every interval split into the fewest equal
            steps of size at most ``dt``; the same steps as ``"divide"`` wherever ``dt`` divides).
        path_coefficients: the tensor a CDE's path was built from; the continuous adjoint of adaptive methods
            needs it listed to differentiate through the path.
        path_gradient_rows: how many leading paths need gradients with respect to the path (``None``: all;
            :meth:`sdegan.solvers.SolveSpec.solve`).
    """
    spec = options if isinstance(options, SolveSpec) else solve_spec(problem, options)
    on_fixed_grid = spec.grid is not None and spec.grid.has_output_times(times)
    if per_path_times and not on_fixed_grid and spec.grid_policy != "max_step":
        spec = dataclasses.replace(spec, grid_policy="max_step", grid=None)
    if (path_coefficients is not None and path_coefficients.requires_grad and spec.gradient == "adjoint"
            and spec.info.adaptive):
        adjoint_params = (*adjoint_params, path_coefficients)
    return spec.solve(function, initial, path, ts=None if on_fixed_grid else times, adjoint_params=adjoint_params,
                      path_gradient_rows=path_gradient_rows)

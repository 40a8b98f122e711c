"""The adapter for torchdiffeq's adaptive solvers: ODEs directly, neural CDEs through torchcde.

Gradients: ``"direct"`` (backpropagation through the adaptive steps) or ``"adjoint"`` (torchdiffeq's
continuous adjoint; its gradient error follows the tolerances, not round-off). Over a linear interpolation
(derivative discontinuous at its knots) the knots are passed to the step-size controller as ``jump_t``
automatically, forward and backward, unless the options already name ``jump_t``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torchcde
import torchdiffeq
from torch import Tensor, nn

from sdegan.errors import ConfigurationError
from sdegan.solvers.backends import Backend, MethodInfo
from sdegan.solvers.grid import StepGrid
from sdegan.solvers.norms import adjoint_norm_options

ADAPTIVE_METHODS = {"dopri5": "5(4)", "dopri8": "8(7)", "bosh3": "3(2)", "fehlberg2": "2(1)", "adaptive_heun": "2(1)"}
SOLVER_OPTIONS = ("first_step", "max_num_steps", "step_t", "jump_t", "safety", "ifactor", "dfactor")


def torchdiffeq_kwargs(
    method: str, gradient: str, rtol: Optional[float], atol: Optional[float], norm: str, options: dict
) -> dict:
    """Keyword arguments of torchdiffeq's ``odeint``/``odeint_adjoint`` (and torchcde's ``cdeint``) for an
    adaptive ``method`` with tolerances, the adjoint's ``norm`` and solver ``options``."""
    kwargs: dict = dict(method=method)
    if options:
        kwargs["options"] = dict(options)
    if rtol is not None:
        kwargs["rtol"] = rtol
    if atol is not None:
        kwargs["atol"] = atol
    if gradient == "adjoint":
        adjoint_options = dict(options, **adjoint_norm_options(norm))
        if adjoint_options:
            kwargs["adjoint_options"] = adjoint_options
        for key in ("rtol", "atol"):
            if key in kwargs:
                kwargs[f"adjoint_{key}"] = kwargs[key]
    return kwargs


class _ShapeCheckedField(nn.Module):
    """Wraps ``func`` so its first output in a solve is checked against the shape the problem needs."""

    def __init__(self, func: nn.Module, expected: tuple[int, ...], meaning: str):
        super().__init__()
        self.func = func
        self.expected: Optional[tuple[int, ...]] = expected
        self.meaning = meaning

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        out = self.func(t, y)
        if self.expected is not None:
            expected, self.expected = self.expected, None
            if tuple(out.shape) != expected:
                raise ConfigurationError(f"func(t, y) must have shape {expected} ({self.meaning}), got {tuple(out.shape)}.")
        return out


def _check_path_in_adjoint_params(path: Any, adjoint_params: Sequence[Tensor]) -> None:
    """The continuous adjoint only differentiates with respect to ``adjoint_params``: refuse to drop path gradients."""
    if not isinstance(path, nn.Module):
        return
    needing = [b for b in path.buffers() if b.requires_grad]
    listed = {id(p) for p in adjoint_params}
    if needing and not any(id(b) in listed for b in needing):
        raise ConfigurationError(
            "The path's coefficients require gradients, which gradient='adjoint' only computes for tensors in "
            "adjoint_params: pass adjoint_params=(coeffs,) (the tensor the interpolation was built from), or "
            "use gradient='direct' or 'reversible', which differentiate through the path automatically."
        )


def path_jumps(path: Any) -> Optional[Tensor]:
    """The times where the path's derivative jumps (the knots of a linear interpolation), else ``None``."""
    return path.grid_points if isinstance(path, torchcde.LinearInterpolation) else None


class TorchdiffeqBackend(Backend):
    """torchdiffeq's adaptive solvers, solved on the output times (``dt`` unused)."""

    name = "torchdiffeq"
    option_names = SOLVER_OPTIONS

    def rows(self, problem: str) -> list[MethodInfo]:
        if problem == "sde":
            return []
        return [MethodInfo(name, self.name, problem, ("direct", "adjoint"), adaptive=True, order=order)
                for name, order in ADAPTIVE_METHODS.items()]

    def _kwargs(self, spec, options: dict) -> dict:
        return torchdiffeq_kwargs(spec.method, spec.gradient, spec.rtol, spec.atol, spec.norm, options)

    def solve_cde(self, spec, field, z0: Tensor, path: Any, grid: StepGrid, adjoint_params: Sequence[Tensor]) -> Tensor:
        ts = grid.times_on(z0.dtype, z0.device)
        channels = path.evaluate(ts[0]).size(-1)
        func = _ShapeCheckedField(field.func, (*z0.shape, channels), "batch, hidden, path channels")
        options = dict(spec.options)
        jumps = path_jumps(path)
        if jumps is not None and "jump_t" not in options:
            options["jump_t"] = jumps
        kwargs = self._kwargs(spec, options)
        if spec.gradient == "adjoint":
            _check_path_in_adjoint_params(path, adjoint_params)
            kwargs["adjoint_params"] = tuple(field.func.parameters()) + tuple(adjoint_params)
        zs = torchcde.cdeint(X=path, func=func, z0=z0, t=ts, adjoint=spec.gradient == "adjoint", **kwargs)
        return zs.transpose(0, 1)

    def solve_ode(self, spec, field, y0: Tensor, grid: StepGrid, adjoint_params: Sequence[Tensor]) -> Tensor:
        ts = grid.times_on(y0.dtype, y0.device)
        func = _ShapeCheckedField(field.func, tuple(y0.shape), "the shape of y0")
        kwargs = self._kwargs(spec, dict(spec.options))
        if spec.gradient == "adjoint":
            kwargs["adjoint_params"] = tuple(field.func.parameters()) + tuple(adjoint_params)
            return torchdiffeq.odeint_adjoint(func, y0, ts, **kwargs)
        return torchdiffeq.odeint(func, y0, ts, **kwargs)

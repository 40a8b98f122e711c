"""``cdeint`` and ``odeint``: the front doors for neural CDE and ODE solves."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torchcde
import torchdiffeq
from torch import Tensor, nn

from sdegan.solvers.capabilities import MethodInfo, check_choice, check_coupling, make_solver
from sdegan.solvers.controls import NoControl, PathControl, path_increments
from sdegan.solvers.grid import check_output_times, check_step, make_step_grid
from sdegan.solvers.integrate import integrate_direct, integrate_reversible
from sdegan.solvers.norms import adjoint_norm_options, check_norm
from sdegan.solvers.vector_fields import CDEVectorField, ODEVectorField
from sdegan.errors import ConfigurationError


def cdeint(
    func: nn.Module,
    z0: Tensor,
    path: Any,
    ts: Tensor,
    *,
    method: str = "reversible_heun",
    gradient: str = "reversible",
    dt: Optional[float] = None,
    coupling: Optional[float] = None,
    rtol: Optional[float] = None,
    atol: Optional[float] = None,
    norm: str = "default",
    adjoint_params: Sequence[Tensor] = (),
) -> Tensor:
    """Solves the neural CDE ``dz = func(t, z) dX(t)`` driven by a torchcde-style path, at the times ``ts``.

    Arguments:
        func: maps ``(t, z)`` to a ``(batch, hidden, channels)`` matrix.
        z0: initial hidden state ``(batch, hidden)``.
        path: a torchcde interpolation (e.g. ``torchcde.LinearInterpolation(coeffs)``); gradients reach its
            coefficients.
        ts: strictly increasing output times in the path's parameter units.
        method: ``reversible_heun``, ``reversible_<base>``, a plain base (``euler``, ``midpoint``, ``ralston3``,
            ``rk4``) or an adaptive torchdiffeq method (``dopri5``, ...); see ``capabilities("cde")``.
        gradient: ``"direct"``, ``"adjoint"`` (torchcde/torchdiffeq) or ``"reversible"``.
        dt: step size for fixed-step methods; must divide every interval between consecutive ``ts``.
            ``None`` steps from output time to output time.
        coupling: coupling parameter of ``reversible_<base>`` methods.
        rtol, atol: tolerances of adaptive methods.
        norm: the adjoint's step-size control (``gradient="adjoint"`` only): ``"default"``, ``"seminorm"``
            (measures the state and its adjoint only, ignoring the accumulated time and parameter adjoints) or
            ``"torchdiffeq_seminorm"``; see :mod:`sdegan.solvers.norms`.
        adjoint_params: other tensors that need gradients. With ``gradient="adjoint"``, a path whose
            coefficients require gradients must have them listed here (as in torchcde), else ValueError.

    Returns:
        The hidden state at ``ts``, shape ``(len(ts), batch, hidden)``. The control increment over each
        fixed step is ``X(t_{n+1}) - X(t_n)``, used by every stage (exact for linear interpolation with knots on
        the step grid).
    """
    info = _check(func, "cde", method, gradient, dt, coupling, rtol, atol, norm, ts)
    if info.backend == "sdegan" and gradient != "adjoint":
        grid = make_step_grid(ts, dt, z0.dtype, z0.device)
        increments = path_increments(path, grid)
        solver = make_solver(method, CDEVectorField(func, adjoint_params), coupling)
        control = PathControl(increments)
        if gradient == "reversible":
            return integrate_reversible(solver, z0, grid, control, increments)
        return integrate_direct(solver, z0, grid, control)
    kwargs = _torchdiffeq_kwargs(info, gradient, dt, rtol, atol, norm)
    if gradient == "adjoint":
        _check_path_in_adjoint_params(path, adjoint_params)
        kwargs["adjoint_params"] = tuple(func.parameters()) + tuple(adjoint_params)
    zs = torchcde.cdeint(X=path, func=func, z0=z0, t=ts, adjoint=gradient == "adjoint", **kwargs)
    return zs.transpose(0, 1)


def odeint(
    func: nn.Module,
    y0: Tensor,
    ts: Tensor,
    *,
    method: str,
    gradient: str,
    dt: Optional[float] = None,
    coupling: Optional[float] = None,
    rtol: Optional[float] = None,
    atol: Optional[float] = None,
    norm: str = "default",
    adjoint_params: Sequence[Tensor] = (),
) -> Tensor:
    """Solves the ODE ``dy/dt = func(t, y)`` at the times ``ts``; arguments as for :func:`cdeint`.

    Returns:
        The solution at ``ts``, shape ``(len(ts), *y0.shape)``.
    """
    info = _check(func, "ode", method, gradient, dt, coupling, rtol, atol, norm, ts)
    if info.backend == "sdegan" and gradient != "adjoint":
        grid = make_step_grid(ts, dt, y0.dtype, y0.device)
        solver = make_solver(method, ODEVectorField(func, adjoint_params), coupling)
        if gradient == "reversible":
            return integrate_reversible(solver, y0, grid, NoControl(), None)
        return integrate_direct(solver, y0, grid, NoControl())
    kwargs = _torchdiffeq_kwargs(info, gradient, dt, rtol, atol, norm)
    if gradient == "adjoint":
        kwargs["adjoint_params"] = tuple(func.parameters()) + tuple(adjoint_params)
        return torchdiffeq.odeint_adjoint(func, y0, ts, **kwargs)
    return torchdiffeq.odeint(func, y0, ts, **kwargs)


def _check(func, problem, method, gradient, dt, coupling, rtol, atol, norm, ts) -> MethodInfo:
    info = check_choice(problem, method, gradient)
    check_output_times(ts)
    check_step(dt)
    check_coupling(method, coupling)
    check_norm(norm, gradient)
    if (rtol is not None or atol is not None) and not info.adaptive:
        raise ConfigurationError(f"rtol/atol apply to adaptive methods only (dopri5, ...), not to method={method!r}.")
    return info


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


def _torchdiffeq_kwargs(info: MethodInfo, gradient, dt, rtol, atol, norm) -> dict:
    kwargs: dict = dict(method=info.name)
    options = {} if info.adaptive or dt is None else dict(step_size=dt)
    if options:
        kwargs["options"] = options
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

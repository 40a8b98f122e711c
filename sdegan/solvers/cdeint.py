"""``cdeint`` and ``odeint``: the keyword front doors for neural CDE and ODE solves (each builds a
:class:`SolveSpec` and solves once)."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from torch import Tensor, nn

from sdegan.solvers.spec import SolveSpec


def cdeint(
    func: nn.Module,
    z0: Tensor,
    path: Any,
    ts: Tensor,
    *,
    method: str = "reversible_heun",
    gradient: str = "reversible",
    dt: Optional[float] = None,
    grid_policy: str = "divide",
    coupling: Optional[float] = None,
    rtol: Optional[float] = None,
    atol: Optional[float] = None,
    norm: str = "default",
    options: Optional[Mapping[str, Any]] = None,
    adjoint_params: Sequence[Tensor] = (),
) -> Tensor:
    """Solves the neural CDE ``dz = func(t, z) dX(t)`` driven by a torchcde-style path, at the times ``ts``.

    Arguments:
        func: maps ``(t, z)`` to a ``(batch, hidden, channels)`` matrix.
        z0: initial hidden state ``(batch, hidden)``.
        path: a torchcde interpolation (e.g. ``torchcde.LinearInterpolation(coeffs)``); gradients reach its
            coefficients. Its ``evaluate`` is called once with all step times (vectorised).
        ts: strictly increasing output times in the path's parameter units.
        method: ``reversible_heun``, ``reversible_<base>``, a plain base (``euler``, ``midpoint``, ``ralston3``,
            ``rk4``) or an adaptive torchdiffeq method (``dopri5``, ...); see ``capabilities("cde")``.
        gradient: ``"direct"``, ``"reversible"`` or ``"adjoint"`` (reversible methods: their exact discrete
            adjoint; adaptive methods: torchdiffeq's continuous adjoint).
        dt: step size for fixed-step methods, placed by ``grid_policy``; ``None`` steps from output time to
            output time.
        grid_policy: ``"divide"`` or ``"max_step"``, as for :func:`sdeint`.
        coupling: coupling parameter of ``reversible_<base>`` methods.
        rtol, atol: tolerances of adaptive methods.
        norm: the adjoint's step-size control (adaptive methods with ``gradient="adjoint"`` only):
            ``"default"``, ``"seminorm"`` (measures the state and its adjoint only, ignoring the accumulated
            time and parameter adjoints) or ``"torchdiffeq_seminorm"``; see :mod:`sdegan.solvers.norms`.
        options: torchdiffeq solver options of adaptive methods (``jump_t``, ``first_step``, ...); over a
            linear interpolation its knots are passed as ``jump_t`` automatically.
        adjoint_params: other tensors that need gradients. With an adaptive ``gradient="adjoint"``, a path
            whose coefficients require gradients must have them listed here (as in torchcde).

    Returns:
        The hidden state at ``ts``, shape ``(len(ts), batch, hidden)``. Fixed-step methods use the control
        increment over each step ``X(t_{n+1}) - X(t_n)`` in every stage (exact for linear interpolation with
        knots on the step grid).
    """
    spec = SolveSpec.build(
        "cde", method=method, gradient=gradient, dt=dt, grid_policy=grid_policy, coupling=coupling, rtol=rtol,
        atol=atol, norm=norm, options=options, times=ts,
    )
    return spec.solve(func, z0, path, adjoint_params=adjoint_params)


def odeint(
    func: nn.Module,
    y0: Tensor,
    ts: Tensor,
    *,
    method: str,
    gradient: str,
    dt: Optional[float] = None,
    grid_policy: str = "divide",
    coupling: Optional[float] = None,
    rtol: Optional[float] = None,
    atol: Optional[float] = None,
    norm: str = "default",
    options: Optional[Mapping[str, Any]] = None,
    adjoint_params: Sequence[Tensor] = (),
) -> Tensor:
    """Solves the ODE ``dy/dt = func(t, y)`` at the times ``ts``; arguments as for :func:`cdeint`.

    Returns:
        The solution at ``ts``, shape ``(len(ts), *y0.shape)``.
    """
    spec = SolveSpec.build(
        "ode", method=method, gradient=gradient, dt=dt, grid_policy=grid_policy, coupling=coupling, rtol=rtol,
        atol=atol, norm=norm, options=options, times=ts,
    )
    return spec.solve(func, y0, adjoint_params=adjoint_params)

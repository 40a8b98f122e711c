"""``sdeint``: the front door for SDE solves."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import torch
import torchsde
from torch import Tensor, nn

from sdegan.solvers.brownian import make_brownian
from sdegan.solvers.capabilities import check_choice, check_coupling, make_solver
from sdegan.solvers.controls import BrownianControl
from sdegan.solvers.grid import check_output_times, check_step, make_step_grid
from sdegan.solvers.integrate import integrate_direct, integrate_reversible
from sdegan.solvers.vector_fields import SDEVectorField
from sdegan.errors import ConfigurationError


def sdeint(
    sde: nn.Module,
    y0: Tensor,
    ts: Tensor,
    *,
    method: str = "reversible_heun",
    gradient: str = "reversible",
    brownian: Union[str, None, Any] = None,
    brownian_tol: Optional[float] = None,
    dt: float,
    coupling: Optional[float] = None,
    grid_policy: str = "divide",
    adjoint_params: Sequence[Tensor] = (),
    **options: Any,
) -> Tensor:
    """Solves a torchsde-style SDE ``dy = f(t, y) dt + g(t, y) dW`` from ``y0`` at the output times ``ts``.

    Arguments:
        sde: an ``nn.Module`` with ``f(t, y)`` and ``g(t, y)`` (or ``f_and_g``) and attributes ``noise_type``
            ("general", "diagonal", "scalar", "additive") and ``sde_type`` ("stratonovich", "ito"); with general
            noise, ``brownian_size`` (else inferred from one evaluation of ``g``).
        y0: initial state ``(batch, state)``.
        ts: strictly increasing output times, 1-D.
        method: ``reversible_heun``, ``reversible_<base>`` (base in euler, midpoint, ralston3, rk4) or one of
            torchsde's solvers (euler, milstein, srk, midpoint, heun, euler_heun, log_ode); see
            :func:`sdegan.solvers.capabilities`.
        gradient: ``"direct"`` (backpropagate through the solver), ``"adjoint"`` (torchsde's continuous adjoint;
            reversible Heun uses torchsde's ``adjoint_reversible_heun``) or ``"reversible"`` (exact reversible
            backward pass, memory independent of the number of steps).
        brownian: ``None``/``"interval"`` (torchsde BrownianInterval with the dt hint), ``"tree"`` (classic
            Virtual Brownian Tree) or a Brownian object ``bm(ta, tb) -> increment`` of shape (batch, noise).
        brownian_tol: query tolerance of the Brownian motion built here (see :func:`make_brownian`).
        dt: step size. For this package's methods it must divide every interval between consecutive ``ts``,
            unless ``grid_policy="max_step"``.
        coupling: the coupling parameter of ``reversible_<base>`` methods (default
            :data:`sdegan.solvers.reversible_runge_kutta.DEFAULT_COUPLING`).
        grid_policy: ``"divide"`` or ``"max_step"`` (see :func:`sdegan.solvers.grid.make_step_grid`); for this
            package's methods (torchsde's own step up to ``dt`` and stop at every output time).
        adjoint_params: tensors the SDE uses that are not its parameters but need gradients (e.g. a context).
        options: passed on to torchsde for torchsde's methods (e.g. ``logqp``, ``adaptive``).

    Returns:
        The solution at ``ts``, shape ``(len(ts), batch, state)``.
    """
    vector_field = SDEVectorField(sde, adjoint_params)
    info = check_choice("sde", method, gradient, vector_field.sde_type, vector_field.noise_type)
    check_output_times(ts)
    check_step(dt)
    if y0.dim() != 2:
        raise ConfigurationError(f"y0 must have shape (batch, state), got {tuple(y0.shape)}.")
    ours = info.backend == "sdegan" and gradient != "adjoint"
    check_coupling(method, coupling)
    if ours and options:
        raise ConfigurationError(f"Unexpected options {sorted(options)} for method={method!r} with gradient={gradient!r}.")

    t0, t1 = float(ts[0]), float(ts[-1])
    size = (y0.size(0), _brownian_size(sde, vector_field, y0, ts[0]))
    bm = make_brownian(brownian, t0, t1, size, y0.dtype, y0.device, dt, info.levy_area, tol=brownian_tol)

    if not ours:
        params = tuple(adjoint_params)
        if gradient == "adjoint":
            extra = dict(adjoint_method="adjoint_reversible_heun") if method == "reversible_heun" else {}
            if params:
                extra["adjoint_params"] = tuple(sde.parameters()) + params
            return torchsde.sdeint_adjoint(sde, y0, ts, bm=bm, method=method, dt=dt, **extra, **options)
        return torchsde.sdeint(sde, y0, ts, bm=bm, method=method, dt=dt, **options)

    grid = make_step_grid(ts, dt, y0.dtype, y0.device, grid_policy)
    solver = make_solver(method, vector_field, coupling)
    control = BrownianControl(bm, grid)
    if gradient == "reversible":
        return integrate_reversible(solver, y0, grid, control, None)
    return integrate_direct(solver, y0, grid, control)


def _brownian_size(sde: nn.Module, vector_field: SDEVectorField, y0: Tensor, t0: Tensor) -> int:
    if vector_field.noise_type == "diagonal":
        return y0.size(-1)
    if vector_field.noise_type == "scalar":
        return 1
    if hasattr(sde, "brownian_size"):
        return int(sde.brownian_size)
    with torch.no_grad():
        _, g = vector_field.evaluate(t0, y0)
    return g.size(-1)

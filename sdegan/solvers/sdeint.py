"""``sdeint``: the keyword front door for SDE solves (builds a :class:`SolveSpec` and solves once)."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

from torch import Tensor, nn

from sdegan.solvers.spec import SolveSpec


def sdeint(
    sde: nn.Module,
    y0: Tensor,
    ts: Tensor,
    *,
    method: str = "reversible_heun",
    gradient: str = "reversible",
    brownian: Union[str, None, Any] = None,
    brownian_tol: Optional[float] = None,
    dt: Optional[float],
    grid_policy: str = "divide",
    coupling: Optional[float] = None,
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
            torchsde's solvers (euler, milstein, srk, midpoint, heun, euler_heun, log_ode, stepped on the same
            grid); see :func:`sdegan.solvers.capabilities`.
        gradient: ``"direct"`` (backpropagate through the solver), ``"reversible"`` (exact reversible backward
            pass, memory independent of the number of steps) or ``"adjoint"`` (reversible methods: the exact
            discrete adjoint, computed by the same reversible backward pass; refused for other methods).
        brownian: ``None``/``"interval"`` (torchsde BrownianInterval with the dt hint), ``"tree"`` (classic
            Virtual Brownian Tree) or a Brownian object ``bm(ta, tb) -> increment`` of shape (batch, noise).
        brownian_tol: query tolerance of the Brownian motion built here (see :func:`make_brownian`).
        dt: step size (``None``: from output time to output time), placed by ``grid_policy``.
        grid_policy: ``"divide"`` (``dt`` must divide every interval between consecutive ``ts``, at the
            precision of their dtype) or ``"max_step"`` (each interval in the fewest equal steps ``<= dt``).
        coupling: the coupling parameter of ``reversible_<base>`` methods (default
            :data:`sdegan.solvers.reversible_runge_kutta.DEFAULT_COUPLING`).
        adjoint_params: tensors the SDE uses that are not its parameters but need gradients (e.g. a context).
        options: torchsde solver options for torchsde's methods (``grad_free`` for milstein).

    Returns:
        The solution at ``ts``, shape ``(len(ts), batch, state)``.
    """
    spec = SolveSpec.build(
        "sde", method=method, gradient=gradient, dt=dt, grid_policy=grid_policy, coupling=coupling,
        brownian=brownian, brownian_tol=brownian_tol, options=options, times=ts,
        sde_type=getattr(sde, "sde_type", None), noise_type=getattr(sde, "noise_type", None),
    )
    return spec.solve(sde, y0, adjoint_params=adjoint_params)

"""The solve specification: one problem's solver, gradient, Brownian motion, step and tolerances, validated
once, with the step grid precomputed for the run's fixed output times.

    spec = SolveSpec.build("sde", method="reversible_heun", gradient="adjoint", dt=0.1, times=ts)
    ys = spec.solve(sde, y0)                 # on the precomputed grid: no validation, no host round trip
    ys = spec.solve(sde, y0, ts=other_ts)    # other output times: their grid is built (one round trip)

Every refusal is a :class:`~sdegan.errors.ConfigurationError` raised by :meth:`SolveSpec.build`, naming
the valid choices. The front doors ``sdeint``, ``cdeint`` and ``odeint`` build a spec and solve once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from sdegan.errors import ConfigurationError
from sdegan.solvers.backends import Backend, MethodInfo
from sdegan.solvers.brownian import BROWNIANS, make_brownian
from sdegan.solvers.capabilities import BACKENDS, check_choice, check_coupling
from sdegan.solvers.grid import StepGrid, check_grid_policy, check_step, make_step_grid
from sdegan.solvers.norms import check_norm
from sdegan.solvers.vector_fields import CDEVectorField, ODEVectorField, SDEVectorField


@dataclass(frozen=True)
class SolveSpec:
    """How one problem of a run is solved (build it with :meth:`build`; frozen).

    Attributes:
        problem: ``"sde"``, ``"cde"`` or ``"ode"``.
        info: the method's row of the capabilities table.
        backend: the adapter that solves it.
        gradient: ``"direct"``, ``"adjoint"`` or ``"reversible"``.
        dt: fixed step (``None``: from output time to output time); unused by adaptive methods.
        grid_policy: ``"divide"`` or ``"max_step"`` (see :mod:`sdegan.solvers.grid`).
        coupling: the ``reversible_<base>`` coupling (``None``: the default).
        brownian: SDEs: ``"interval"``, ``"tree"``, or a Brownian object shared by every solve.
        brownian_tol: query tolerance of the Brownian motions built per solve.
        rtol, atol, norm: adaptive methods' tolerances and the adjoint's norm.
        options: solver options passed to the backend (torchdiffeq's ``jump_t``, ...).
        sde_type, noise_type: the SDE's types checked at build time (a solve of another type is checked then).
        grid: the step grid of the fixed output times (``None`` if the spec was built without times).
    """

    problem: str
    info: MethodInfo
    backend: Backend
    gradient: str
    dt: Optional[float] = None
    grid_policy: str = "divide"
    coupling: Optional[float] = None
    brownian: Any = None
    brownian_tol: Optional[float] = None
    rtol: Optional[float] = None
    atol: Optional[float] = None
    norm: str = "default"
    options: Mapping[str, Any] = field(default_factory=dict)
    sde_type: Optional[str] = None
    noise_type: Optional[str] = None
    grid: Optional[StepGrid] = None

    @property
    def method(self) -> str:
        return self.info.name

    @classmethod
    def build(
        cls,
        problem: str,
        *,
        method: str,
        gradient: str,
        dt: Optional[float] = None,
        grid_policy: str = "divide",
        coupling: Optional[float] = None,
        brownian: Union[str, None, Any] = None,
        brownian_tol: Optional[float] = None,
        rtol: Optional[float] = None,
        atol: Optional[float] = None,
        norm: str = "default",
        options: Optional[Mapping[str, Any]] = None,
        times: Optional[Tensor] = None,
        sde_type: Optional[str] = None,
        noise_type: Optional[str] = None,
    ) -> "SolveSpec":
        """Validates every choice and precomputes the step grid for ``times`` (if given).

        ``sde_type``/``noise_type`` (SDEs) check the method against the equation up front when known.

        Raises:
            ConfigurationError: naming the valid choices, for any choice that does not fit.
        """
        info = check_choice(problem, method, gradient, sde_type, noise_type)
        check_step(dt)
        check_grid_policy(grid_policy)
        check_coupling(method, coupling)
        check_norm(norm, gradient)
        if norm != "default" and not info.adaptive:
            raise ConfigurationError(f"norm={norm!r} applies to adaptive methods (dopri5, ...), not to method={method!r}.")
        if (rtol is not None or atol is not None) and not info.adaptive:
            raise ConfigurationError(f"rtol/atol apply to adaptive methods only (dopri5, ...), not to method={method!r}.")
        if problem != "sde" and (brownian is not None or brownian_tol is not None):
            raise ConfigurationError(f"brownian/brownian_tol apply to SDE solves only, not to a {problem} solve.")
        if isinstance(brownian, str) and brownian not in BROWNIANS:
            raise ConfigurationError(f"brownian must be one of {BROWNIANS}, None, or a Brownian object; got {brownian!r}.")
        if brownian is not None and not isinstance(brownian, str) and not callable(brownian):
            raise ConfigurationError(f"brownian must be one of {BROWNIANS}, None, or a Brownian object; got {brownian!r}.")
        if brownian == "tree" and info.levy_area != "none":
            raise ConfigurationError(
                f"brownian='tree' has no Levy area, which method={method!r} needs; use brownian='interval'."
            )
        backend = BACKENDS[info.backend]
        options = dict(options or {})
        problem_with_options = backend.check_options(info, options, gradient)
        if problem_with_options is not None:
            raise ConfigurationError(problem_with_options)
        spec = cls(problem, info, backend, gradient, None if dt is None else float(dt), grid_policy,
                   None if coupling is None else float(coupling), brownian, brownian_tol, rtol, atol, norm, options,
                   sde_type, noise_type)
        if times is not None:
            object.__setattr__(spec, "grid", spec.grid_for(times))
        return spec

    def grid_for(self, ts: Tensor) -> StepGrid:
        """The step grid for output times ``ts`` (one host round trip): the output times themselves for
        adaptive methods, else the steps of ``dt`` under :attr:`grid_policy`."""
        return make_step_grid(ts, None if self.info.adaptive else self.dt, self.grid_policy)

    def _grid(self, ts: Optional[Tensor]) -> StepGrid:
        if ts is not None:
            return self.grid_for(ts)
        if self.grid is None:
            raise ConfigurationError("This solve specification was built without times: pass ts=... to solve.")
        return self.grid

    def solve(
        self,
        function: nn.Module,
        initial: Tensor,
        path: Any = None,
        *,
        ts: Optional[Tensor] = None,
        brownian: Any = None,
        adjoint_params: Sequence[Tensor] = (),
        path_gradient_rows: Optional[int] = None,
    ) -> Tensor:
        """Solves the problem from ``initial`` at the spec's times (or at ``ts``).

        Arguments:
            function: the SDE module (``f``, ``g``/``f_and_g``, ``noise_type``, ``sde_type``), the CDE vector
                field ``(t, z) -> (batch, hidden, channels)`` or the ODE vector field ``(t, y) -> dy/dt``.
            initial: ``y0`` ``(batch, state)`` (SDE), ``z0`` ``(batch, hidden)`` (CDE) or ``y0`` (ODE).
            path: the CDE's torchcde-style control path (CDEs only).
            ts: output times other than the spec's fixed ones (their grid is built for this solve).
            brownian: a Brownian object for this SDE solve (overrides the spec's).
            adjoint_params: tensors the vector field uses that are not its parameters but need gradients.
            path_gradient_rows: CDEs only: how many leading paths of the batch need gradients with respect to
                the path; the others' path gradients are not formed by the reversible backward pass (they come
                back as zero). Only for rows whose coefficients do not require gradients, e.g. data scored in the
                same solve as generated paths. ``None``: every path's.

        Returns:
            The solution at the output times, ``(len(ts), *initial.shape)``.
        """
        grid = self._grid(ts)
        if self.problem == "sde":
            field = SDEVectorField(function, adjoint_params)
            if (field.sde_type, field.noise_type) != (self.sde_type, self.noise_type):  # not checked at build
                check_choice("sde", self.method, self.gradient, field.sde_type, field.noise_type)
            return self._solve_sde(field, initial, grid, self.brownian if brownian is None else brownian)
        if self.problem == "cde":
            if path is None:
                raise ConfigurationError("A CDE solve needs the control path: solve(func, z0, path).")
            if initial.dim() != 2:
                raise ConfigurationError(f"z0 must have shape (batch, hidden), got {tuple(initial.shape)}.")
            if path_gradient_rows is not None and not 0 <= path_gradient_rows <= initial.size(0):
                raise ConfigurationError(f"path_gradient_rows must be between 0 and the batch size "
                                         f"{initial.size(0)}, got {path_gradient_rows}.")
            field = CDEVectorField(function, adjoint_params, path_gradient_rows)
            return self.backend.solve_cde(self, field, initial, path, grid, adjoint_params)
        return self.backend.solve_ode(self, ODEVectorField(function, adjoint_params), initial, grid, adjoint_params)

    def _solve_sde(self, field: SDEVectorField, y0: Tensor, grid: StepGrid, brownian: Any) -> Tensor:
        if y0.dim() != 2:
            raise ConfigurationError(f"y0 must have shape (batch, state), got {tuple(y0.shape)}.")
        size = (y0.size(0), _brownian_size(field, y0, grid))
        bm = make_brownian(brownian, grid.times[0], grid.times[-1], size, y0.dtype, y0.device, self.dt,
                           self.info.levy_area, tol=self.brownian_tol, step_times=grid.times)
        field.expect_state(y0, size[1])
        return self.backend.solve_sde(self, field, y0, grid, bm)


def _brownian_size(field: SDEVectorField, y0: Tensor, grid: StepGrid) -> int:
    if field.noise_type == "diagonal":
        return y0.size(-1)
    if field.noise_type == "scalar":
        return 1
    if hasattr(field.sde, "brownian_size"):
        return int(field.sde.brownian_size)
    with torch.no_grad():
        _, g = field._evaluate(grid.times_on(y0.dtype, y0.device)[0], y0)
    if g is None or g.dim() != 3:
        raise ConfigurationError(
            f"g must have shape (batch, state, brownian) for {field.noise_type} noise, got "
            f"{None if g is None else tuple(g.shape)}."
        )
    return g.size(-1)

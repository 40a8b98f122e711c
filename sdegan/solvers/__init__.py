"""sdegan.solvers: every differential-equation solve in the project goes through here.

    ys = sdeint(sde, y0, ts, method="reversible_heun", gradient="reversible", brownian="interval", dt=1.0)
    zs = cdeint(func, z0, path, ts, method="reversible_midpoint", gradient="reversible", dt=1.0)
    ys = odeint(func, y0, ts, method="dopri5", gradient="adjoint", norm="seminorm")

or, for a problem solved many times on the same output times, validate and precompute once:

    spec = SolveSpec.build("sde", method="reversible_heun", gradient="adjoint", dt=1.0, times=ts)
    ys = spec.solve(sde, y0)

See ``docs/solvers.md`` for the methods, gradients and Brownian motions, and :func:`capabilities` for what
each method can do.
"""

from sdegan.solvers.brownian import BROWNIANS, make_brownian
from sdegan.solvers.capabilities import GRADIENTS, MethodInfo, capabilities, check_choice, valid_choices
from sdegan.solvers.cdeint import cdeint, odeint
from sdegan.solvers.grid import GRID_POLICIES
from sdegan.solvers.grid_brownian import GridBrownian
from sdegan.solvers.reversible_runge_kutta import DEFAULT_COUPLING
from sdegan.solvers.sdeint import sdeint
from sdegan.solvers.spec import SolveSpec
from sdegan.solvers.virtual_brownian_tree import VirtualBrownianTree

__all__ = [
    "sdeint",
    "cdeint",
    "odeint",
    "SolveSpec",
    "GRID_POLICIES",
    "capabilities",
    "valid_choices",
    "check_choice",
    "MethodInfo",
    "make_brownian",
    "VirtualBrownianTree",
    "GridBrownian",
    "BROWNIANS",
    "GRADIENTS",
    "DEFAULT_COUPLING",
]

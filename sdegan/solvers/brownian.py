"""Choosing and building the Brownian motion that drives an SDE solve."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torchsde

from sdegan.solvers.grid_brownian import GridBrownian
from sdegan.solvers.virtual_brownian_tree import VirtualBrownianTree, step_tolerance
from sdegan.errors import ConfigurationError

BROWNIANS = ("interval", "tree", "grid")


def make_brownian(
    kind: Union[str, None, object],
    t0: float,
    t1: float,
    size: tuple[int, ...],
    dtype: torch.dtype,
    device: torch.device,
    dt: Optional[float],
    levy_area_approximation: str = "none",
    entropy: Optional[int] = None,
    tol: Optional[float] = None,
    step_times: Optional[Sequence[float]] = None,
):
    """Returns a Brownian object ``bm(ta, tb) -> W(tb) - W(ta)`` of shape ``size``.

    Args:
        kind: ``None`` or ``"interval"`` (torchsde's BrownianInterval, always given the ``dt`` hint),
            ``"tree"`` (a classic :class:`VirtualBrownianTree`), ``"grid"`` (:class:`GridBrownian` on the steps
            of size ``dt``: fixed-step solves only), or an existing Brownian object (returned as is).
        entropy: seed; by default drawn from torch's global generator, so ``torch.manual_seed`` fixes the sample.
        step_times: the solve's step grid, if known: ``"grid"`` draws one increment per step of it (else on the
            uniform steps of ``dt``).
        tol: query tolerance: the tree's bisection depth (default :func:`step_tolerance`: ``(t1 - t0) * 2**-20``,
            or ``dt * 2**-10`` if smaller); for the interval, torchsde's ``tol`` (default 0).
    """
    if kind is not None and not isinstance(kind, str):
        if not callable(kind):
            raise ConfigurationError(f"brownian must be one of {BROWNIANS}, None, or a Brownian object; got {kind!r}.")
        return kind
    kind = "interval" if kind is None else kind
    if kind not in BROWNIANS:
        raise ConfigurationError(f"brownian must be one of {BROWNIANS}, None, or a Brownian object; got {kind!r}.")
    if entropy is None:
        entropy = int(torch.randint(0, 2**31 - 1, ()).item())
    if kind == "interval":
        return torchsde.BrownianInterval(
            t0=t0,
            t1=t1,
            size=size,
            dtype=dtype,
            device=device,
            entropy=entropy,
            dt=dt,
            levy_area_approximation=levy_area_approximation,
            tol=0.0 if tol is None else tol,
        )
    if levy_area_approximation != "none":
        raise ConfigurationError(f"brownian={kind!r} has no Levy area; use brownian='interval' for this method.")
    if kind == "grid":
        if step_times is not None:
            return GridBrownian(step_times, size, dtype=dtype, device=device, entropy=entropy)
        if dt is None:
            raise ConfigurationError("brownian='grid' needs a fixed step dt; use brownian='interval' without one.")
        return GridBrownian.uniform(t0, t1, dt, size, dtype=dtype, device=device, entropy=entropy)
    tol = step_tolerance(t0, t1, dt) if tol is None else tol
    return VirtualBrownianTree(t0=t0, t1=t1, size=size, dtype=dtype, device=device, entropy=entropy, tol=tol)

"""A classic Virtual Brownian Tree (Li, Wong, Chen, Duvenaud 2020): the baseline the Brownian Interval beats.

``W(t)`` for any ``t`` is found by dyadic bisection of ``[t0, t1]`` from the root: the value at a midpoint is
drawn from the Brownian bridge between the interval's end values, with randomness seeded by the node's
position, until the midpoint is within ``tol`` of ``t``; the value there is then the bridge mean. Every
new point walks down from the root, costing O(log((t1 - t0) / tol)) normal draws. Only the points of the last
query are kept (a solver's consecutive increments share an endpoint, forwards or in reverse, so each costs
one walk); values depend on the entropy alone, so the same query gives the same value in any order.
"""

from __future__ import annotations

import hashlib
import math
from typing import Optional, Union

import torch
from torch import Tensor

from sdegan.errors import ConfigurationError
from sdegan.solvers.brownian_base import IncrementBrownian

Scalar = Union[float, Tensor]
STEP_RESOLUTION = 2.0**-10  # default tol as a fraction of the solver's step


def step_tolerance(t0: float, t1: float, dt: Optional[float]) -> float:
    """The default query tolerance: the tree's own ``(t1 - t0) * 2**-20``, refined to ``dt * 2**-10`` for small
    steps, so that an increment over one step is never rounded to zero and its variance is ``dt`` to within a
    relative ``2**-9`` (query points move by at most ``tol``)."""
    tol = (t1 - t0) * 2.0**-20
    return tol if dt is None else min(tol, dt * STEP_RESOLUTION)


class VirtualBrownianTree(IncrementBrownian):
    """Brownian motion of shape ``size`` on ``[t0, t1]``, queried as ``tree(ta, tb) -> W(tb) - W(ta)``.

    Args:
        t0, t1: the time interval.
        size: shape of each increment, e.g. ``(batch, channels)``.
        dtype, device: of the increments.
        entropy: seed; by default drawn from torch's global generator (so ``torch.manual_seed`` fixes it).
        tol: queries are resolved to a dyadic point within ``tol`` (default ``(t1 - t0) * 2**-20``; see
            :func:`step_tolerance` for one that follows a solver's step).

    ``bisections`` counts the walks from the root made so far (its cost, for tests and benchmarks).
    """

    __slots__ = ("_t0", "_t1", "_size", "_dtype", "_device", "_entropy", "_tol", "_w1", "_recent", "bisections")

    def __init__(
        self,
        t0: Scalar,
        t1: Scalar,
        size: tuple[int, ...],
        dtype: Optional[torch.dtype] = None,
        device: Optional[Union[str, torch.device]] = None,
        entropy: Optional[int] = None,
        tol: Optional[float] = None,
    ):
        self._t0, self._t1 = float(t0), float(t1)
        if not self._t1 > self._t0:
            raise ConfigurationError(f"Need t0 < t1, got t0={self._t0}, t1={self._t1}.")
        self._size = tuple(size)
        self._dtype = torch.get_default_dtype() if dtype is None else dtype
        self._device = torch.device("cpu" if device is None else device)
        self._entropy = int(torch.randint(0, 2**62, ()).item()) if entropy is None else int(entropy)
        self._tol = step_tolerance(self._t0, self._t1, None) if tol is None else float(tol)
        if not self._tol > 0:
            raise ConfigurationError(f"tol must be positive, got {self._tol}.")
        self._w1 = math.sqrt(self._t1 - self._t0) * self._normal(-1, 0)  # W(t1), the root's end value
        # W(t) - W(t0) at the points of the last query; before the first, the root's ends.
        self._recent: dict[float, Tensor] = {self._t0: torch.zeros_like(self._w1), self._t1: self._w1}
        self.bisections = 0

    def _normal(self, depth: int, index: int) -> Tensor:
        """A standard normal tensor determined by the node (depth, index) and the entropy only."""
        key = f"{self._entropy}:{depth}:{index}".encode()
        seed = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") >> 1
        generator = torch.Generator(device=self._device).manual_seed(seed)
        return torch.randn(self._size, generator=generator, dtype=self._dtype, device=self._device)

    def _value(self, t: float) -> Tensor:
        """W(t) - W(t0), kept from the last query if ``t`` was one of its points, else by one bisection."""
        kept = self._recent.get(t)
        return self._bisect(t) if kept is None else kept

    def _bisect(self, t: float) -> Tensor:
        """W(t) - W(t0), by bisection from the root; the interval at (depth, index) has children
        (depth + 1, 2 index) and (depth + 1, 2 index + 1), and its midpoint is drawn with its own seed."""
        if not self._t0 <= t <= self._t1:
            raise ConfigurationError(f"Query time {t} outside [{self._t0}, {self._t1}].")
        self.bisections += 1
        start, end = self._t0, self._t1
        w_start, w_end = torch.zeros_like(self._w1), self._w1
        depth, index = 0, 0
        while True:
            mid = 0.5 * (start + end)
            if abs(t - start) <= self._tol:
                return w_start
            if abs(t - end) <= self._tol:
                return w_end
            bridge_std = math.sqrt((end - start) / 4.0)
            w_mid = 0.5 * (w_start + w_end) + bridge_std * self._normal(depth, index)
            if abs(t - mid) <= self._tol:
                return w_mid
            depth, index = depth + 1, 2 * index
            if t < mid:
                end, w_end = mid, w_mid
            else:
                start, w_start = mid, w_mid
                index += 1

    def __call__(self, ta: Scalar, tb: Optional[Scalar] = None, return_U: bool = False, return_A: bool = False):
        if return_U or return_A:
            raise ConfigurationError("VirtualBrownianTree has no Levy area; use levy_area_approximation='none' methods.")
        points = (float(ta),) if tb is None else (float(ta), float(tb))
        self._recent = {t: self._value(t) for t in points}
        if tb is None:
            return self._recent[points[0]]
        return self._recent[points[1]] - self._recent[points[0]]

    def __repr__(self) -> str:
        return (
            f"VirtualBrownianTree(t0={self._t0}, t1={self._t1}, size={self._size}, dtype={self._dtype}, "
            f"device={self._device}, tol={self._tol})"
        )

"""A fast Brownian motion for fixed-step solves: exact increments over the steps of one known time grid.

The increment over step ``n`` is ``sqrt(t_{n+1} - t_n) * Z_n`` with ``Z_n`` standard normal. The normals are
drawn a block of ``block_steps`` consecutive steps at a time, by one ``torch.randn`` call from a generator
seeded with a hash of (entropy, block index): a counter-based scheme, so any block is regenerated
bit-identically at any time and in any order (the reversible backward pass walks the steps in reverse and
sees exactly the forward increments), and only the block in use is held, so memory does not grow with the
number of steps. One draw per block costs less than a ``torch.randn`` call per step.

It answers only the steps of its grid: a query ``(ta, tb)`` that is not one step (say a whole output interval,
or half a step) is refused, since the increments of other intervals are not defined consistently with them.
Query times are matched to grid times up to round-off (a thousandth of the adjacent step), so a solver that
accumulates its times in floats (torchsde's step loop) finds its steps; an interval within round-off of a
single grid time has increment zero. For arbitrary queries, or Levy area, use the Brownian Interval.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Optional, Union

import torch
from torch import Tensor

from sdegan.errors import ConfigurationError
from sdegan.solvers.brownian_base import IncrementBrownian

Scalar = Union[float, Tensor]

# A query endpoint matches a grid time when it lies within this fraction of the adjacent step: robust to
# the round-off of grids built with different arithmetic (or accumulated by torchsde's step loop), while
# a point half a step away is refused.
_MATCH_FRACTION = 1e-3
# Blocks hold at most this many numbers (16 MiB in float32), so memory stays bounded for wide batches.
_MAX_BLOCK_ELEMENTS = 2**22
_MASK32 = 0xFFFFFFFF


def _mix32(x: int) -> int:
    """A bijection of 32-bit integers with good avalanche (the "lowbias32" integer hash)."""
    x &= _MASK32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & _MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & _MASK32
    x ^= x >> 16
    return x


def block_seed(entropy: int, block: int) -> int:
    """The generator seed of ``block``: distinct for every block of one entropy (a bijection in the block
    index modulo 2**32; torch's CPU generator uses 32 bits of a seed)."""
    return _mix32(_mix32(entropy ^ (entropy >> 32)) + block)


class GridBrownian(IncrementBrownian):
    """Brownian motion on the step grid ``times``, queried one step at a time: ``bm(t_n, t_{n+1})``.

    Args:
        times: the step times ``t_0 < t_1 < ... < t_N`` of the solve (for a solve with ``dt`` on
            ``[t0, t1]``: :meth:`uniform`).
        size: shape of each increment, e.g. ``(batch, channels)``.
        dtype, device: of the increments.
        entropy: seed; by default drawn from torch's global generator (so ``torch.manual_seed`` fixes it).
        block_steps: steps drawn per block (default: 64, fewer when a block would exceed 2**22 numbers).

    The same entropy gives the same increments on the same device; CPU and CUDA generators differ, so a
    CPU and a CUDA sample with one entropy are different (equally valid) Brownian paths.
    """

    __slots__ = ("_times", "_index", "_size", "_dtype", "_device", "_entropy", "_block_steps", "_generator",
                 "_block", "_block_start")

    def __init__(
        self,
        times: Sequence[float],
        size: tuple[int, ...],
        dtype: Optional[torch.dtype] = None,
        device: Optional[Union[str, torch.device]] = None,
        entropy: Optional[int] = None,
        block_steps: Optional[int] = None,
    ):
        self._times = tuple(float(t) for t in times)
        if len(self._times) < 2 or any(b <= a for a, b in zip(self._times[:-1], self._times[1:])):
            raise ConfigurationError("GridBrownian needs at least two strictly increasing step times.")
        self._index = {t: n for n, t in enumerate(self._times)}
        self._size = tuple(size)
        self._dtype = torch.get_default_dtype() if dtype is None else dtype
        self._device = torch.device("cpu" if device is None else device)
        self._entropy = int(torch.randint(0, 2**62, ()).item()) if entropy is None else int(entropy)
        if block_steps is None:
            block_steps = max(1, min(64, _MAX_BLOCK_ELEMENTS // max(1, math.prod(self._size))))
        if block_steps < 1:
            raise ConfigurationError(f"block_steps must be at least 1, got {block_steps}.")
        self._block_steps = int(block_steps)
        self._generator = torch.Generator(device=self._device)
        self._block: Optional[Tensor] = None
        self._block_start = -1

    @classmethod
    def uniform(cls, t0: float, t1: float, dt: float, size: tuple[int, ...], **kwargs) -> "GridBrownian":
        """On the grid ``t0, t0 + h, ..., t1`` with ``h = (t1 - t0) / round((t1 - t0) / dt)`` (the steps of a
        solve with step ``dt``; the grid of any output times that ``dt`` divides lies on it)."""
        num_steps = max(1, round((t1 - t0) / dt))
        step = (t1 - t0) / num_steps
        times = [t0 + k * step for k in range(num_steps)] + [t1]
        return cls(times, size, **kwargs)

    @property
    def num_steps(self) -> int:
        return len(self._times) - 1

    @property
    def held_bytes(self) -> int:
        """Bytes of tensors this object holds (one block at most, whatever the number of steps)."""
        return 0 if self._block is None else self._block.numel() * self._block.element_size()

    def _nearest_time(self, t: float) -> Optional[int]:
        """Index of the grid time within round-off of ``t``, or ``None`` when there is none."""
        n = self._index.get(t)
        if n is not None:
            return n
        right = bisect.bisect_left(self._times, t)
        n = min((i for i in (right - 1, right) if 0 <= i < len(self._times)), key=lambda i: abs(self._times[i] - t))
        adjacent = [self._times[i + 1] - self._times[i] for i in (n - 1, n) if 0 <= i < self.num_steps]
        return n if abs(t - self._times[n]) <= _MATCH_FRACTION * min(adjacent) else None

    def _load_block(self, start: int) -> Tensor:
        """Increments of steps ``start .. start + block_steps - 1`` (fewer at the end), regenerated from the seed."""
        stop = min(start + self._block_steps, self.num_steps)
        self._generator.manual_seed(block_seed(self._entropy, start // self._block_steps))
        normals = torch.randn((stop - start, *self._size), generator=self._generator, dtype=self._dtype,
                              device=self._device)
        steps = [self._times[n + 1] - self._times[n] for n in range(start, stop)]
        scale = torch.tensor(steps, dtype=self._dtype).sqrt_().to(self._device)
        self._block = normals.mul_(scale.view(-1, *(1,) * len(self._size)))
        self._block_start = start
        return self._block

    def increment(self, n: int) -> Tensor:
        """``W(t_{n+1}) - W(t_n)``, the increment over step ``n``."""
        if not 0 <= n < self.num_steps:
            raise ConfigurationError(f"step {n} is not one of the grid's steps 0..{self.num_steps - 1}.")
        offset = n - self._block_start
        if self._block is None or not 0 <= offset < self._block_steps:
            self._load_block(n - n % self._block_steps)
            offset = n % self._block_steps
        return self._block[offset]

    def __call__(self, ta: Scalar, tb: Optional[Scalar] = None, return_U: bool = False, return_A: bool = False):
        if return_U or return_A:
            raise ConfigurationError("GridBrownian has no Levy area; use brownian='interval' for this method.")
        if tb is None:
            raise ConfigurationError("GridBrownian answers increments bm(ta, tb) over one step, not values W(t).")
        ta, tb = float(ta), float(tb)
        start, end = self._nearest_time(ta), self._nearest_time(tb)
        if start is not None and end == start + 1:
            return self.increment(start)
        if start is not None and end == start:  # within round-off of one grid time (a float step loop's drift)
            return torch.zeros(self._size, dtype=self._dtype, device=self._device)
        raise ConfigurationError(
            f"GridBrownian answers only the steps of its grid; ({ta}, {tb}) is not one of them. Use "
            "brownian='interval' for solves that ask for other intervals (adaptive steps, Levy area, other grids)."
        )

    def __repr__(self) -> str:
        return (f"GridBrownian(t0={self._times[0]}, t1={self._times[-1]}, num_steps={self.num_steps}, "
                f"size={self._size}, dtype={self._dtype}, device={self._device}, block_steps={self._block_steps})")

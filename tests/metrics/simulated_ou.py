"""Small Ornstein-Uhlenbeck samples for the metric tests (independent of sdegan.data)."""

from __future__ import annotations

import torch
from torch import Tensor


def ou_paths(num_paths: int, length: int = 32, *, seed: int, level: float = 0.0,
             theta: float = 0.3, sigma: float = 0.5, channels: int = 1,
             missing_fraction: float = 0.0, dtype: torch.dtype = torch.float64) -> Tensor:
    """Paths of dY = theta (level - Y) dt + sigma dW, Y_0 ~ U(-1, 1), observed at t = 0, 1, ...,
    length - 1 (10 Euler substeps per unit), with time as channel 0 and an optional fraction of the
    value entries (never a whole channel of a path) set to NaN."""
    generator = torch.Generator().manual_seed(seed)
    substeps = 10
    dt = 1.0 / substeps
    y = torch.rand(num_paths, channels, generator=generator, dtype=dtype) * 2 - 1
    values = [y]
    for _ in range(length - 1):
        for _ in range(substeps):
            noise = torch.randn(num_paths, channels, generator=generator, dtype=dtype)
            y = y + theta * (level - y) * dt + sigma * dt**0.5 * noise
        values.append(y)
    values = torch.stack(values, dim=1)
    if missing_fraction > 0:
        drop = torch.rand(values.shape, generator=generator) < missing_fraction
        drop[:, 0] = False
        values = values.masked_fill(drop, float("nan"))
    times = torch.arange(length, dtype=dtype).view(1, length, 1).expand(num_paths, length, 1)
    return torch.cat([times, values], dim=-1)

"""The part every Brownian source of this package shares: torchsde's Brownian interface over fixed attributes."""

from __future__ import annotations

import torch
from torchsde import BaseBrownian


class IncrementBrownian(BaseBrownian):
    """A Brownian motion of increments only (no Levy area), with ``_size``, ``_dtype`` and ``_device`` set by
    the subclass; its ``dtype``, ``device``, ``shape`` and ``levy_area_approximation`` as torchsde expects."""

    __slots__ = ()

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def shape(self) -> torch.Size:
        return torch.Size(self._size)

    @property
    def levy_area_approximation(self) -> str:
        return "none"

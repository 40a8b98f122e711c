"""Errors raised by the training modules."""

from __future__ import annotations

__all__ = ["NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
    """A loss or gradient became NaN/inf; raised before the optimiser step, so no state is corrupted."""

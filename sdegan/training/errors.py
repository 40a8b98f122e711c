"""Errors raised by the training modules and the checkpoint writer."""

from __future__ import annotations

from pathlib import Path

__all__ = ["NonFiniteLossError", "CheckpointWriteError"]


class NonFiniteLossError(FloatingPointError):
    """Training diverged: a loss, gradient or generated sample became NaN/inf or exceeded the model's
    ``divergence_threshold``. Raised before the optimiser step, so no state is corrupted.

    Attributes:
        step: the training step (``global_step``) at which the divergence was seen.
    """

    def __init__(self, message: str, step: int) -> None:
        super().__init__(message)
        self.step = step


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (full disk, quota, read-only filesystem, ...).

    The file it was to replace is untouched (checkpoints are written atomically).

    Attributes:
        path: the checkpoint that was being written.
        step: the training step it would have held.
    """

    def __init__(self, path: Path, step: int, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause))
        self.path = path
        self.step = step

    def __str__(self) -> str:
        return f"could not write checkpoint {self.path}: {self.strerror}"

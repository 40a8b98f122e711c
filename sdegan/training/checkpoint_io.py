"""Atomic checkpoint files for Lightning, and the record of which ones were written."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from sdegan.run_outputs import atomic_file
from sdegan.training.errors import CheckpointWriteError

__all__ = ["AtomicCheckpointIO"]

log = logging.getLogger(__name__)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file in its directory, fsyncs it and renames it into place.

    A write that fails (full disk, quota) leaves the previous file of that name intact and raises
    :class:`~sdegan.training.errors.CheckpointWriteError`. :attr:`written` maps each checkpoint written
    by this run and still on disk to its training step.
    """

    def __init__(self) -> None:
        super().__init__()
        self.written: dict[Path, int] = {}

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        path = Path(path)
        step = int(checkpoint.get("global_step", -1))
        try:
            with atomic_file(path) as file:
                torch.save(checkpoint, file)
        except OSError as error:
            raise CheckpointWriteError(path, step, error) from error
        self.written[path] = step
        log.debug("checkpoint written: %s (step %d)", path, step)

    def remove_checkpoint(self, path: Any) -> None:
        super().remove_checkpoint(path)
        self.written.pop(Path(path), None)

    def latest(self, before_step: int | None = None) -> tuple[Path, int] | None:
        """The newest checkpoint written (before training step ``before_step``, if given) and its step."""
        candidates = [(step, path) for path, step in self.written.items()
                      if before_step is None or step < before_step]
        if not candidates:
            return None
        step, path = max(candidates, key=lambda item: (item[0], item[1].name != "last.ckpt"))
        return path, step

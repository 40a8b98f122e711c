"""A user's own callback, added to runs from the command line by the tests (``+callbacks.<name>._target_=...``)."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl


class WriteFinalStep(pl.Callback):
    """Writes the global step at the end of training to ``path``."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.path.write_text(str(trainer.global_step))

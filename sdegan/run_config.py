"""Keep a run's composed config inside its checkpoints, so a checkpoint alone rebuilds its model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from sdegan.errors import ConfigurationError, MissingFileError

CHECKPOINT_KEY = "sdegan_config"


class StoreConfigInCheckpoint(pl.Callback):
    """Writes the run's resolved config (without Hydra's own node) into every checkpoint."""

    def __init__(self, cfg: DictConfig) -> None:
        run_cfg = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
        self.config = OmegaConf.to_container(run_cfg, resolve=True)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[CHECKPOINT_KEY] = self.config


def load_checkpoint(path: str | Path) -> tuple[dict[str, Any], DictConfig]:
    """Read a checkpoint written by ``sdegan-train``; returns it and the run config it carries.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not an sdegan checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(
            f"checkpoint {path} does not exist; sdegan-train writes them to <run dir>/checkpoints/"
        )
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(checkpoint, dict) or CHECKPOINT_KEY not in checkpoint:
        raise ConfigurationError(f"{path} is not a checkpoint written by sdegan-train (it has no run config)")
    return checkpoint, OmegaConf.create(checkpoint[CHECKPOINT_KEY])

"""Synthetic paths and a minimal datamodule for the training tests (no dependency on sdegan.data)."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader


class AffineNormaliser:
    """``original = normalised * scale + shift`` on value channels; time untouched."""

    def __init__(self, shift: float = 1.0, scale: float = 2.0) -> None:
        self.shift, self.scale = shift, scale

    def inverse_transform(self, paths: torch.Tensor) -> torch.Tensor:
        out = paths.clone()
        out[..., 1:] = out[..., 1:] * self.scale + self.shift
        return out


def ou_like_paths(
    num_paths: int, length: int, channels: int = 1, missing: float = 0.3, seed: int = 0
) -> torch.Tensor:
    """Discretised mean-reverting paths ``(num_paths, length, 1 + channels)`` with NaN gaps."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.empty(num_paths, length, channels)
    values[:, 0] = 2 * torch.rand(num_paths, channels, generator=generator) - 1
    for i in range(1, length):
        noise = torch.randn(num_paths, channels, generator=generator)
        values[:, i] = 0.9 * values[:, i - 1] + 0.02 * i + 0.2 * noise
    drop = torch.rand(values.shape, generator=generator) < missing
    drop[:, 0] = False  # keep every channel observed somewhere
    values[drop] = float("nan")
    times = torch.arange(length, dtype=torch.float32).view(1, -1, 1).expand(num_paths, -1, 1)
    return torch.cat([times, values], dim=-1)


class SyntheticPathDataModule(pl.LightningDataModule):
    """The attributes of the datamodule contract (docs/architecture.md) on synthetic paths."""

    def __init__(
        self, num_paths: int = 64, length: int = 8, channels: int = 1, batch_size: int = 16,
        shuffle: bool = True, seed: int = 0,
    ) -> None:
        super().__init__()
        paths = ou_like_paths(num_paths, length, channels, seed=seed)
        split = num_paths // 4
        self.train_paths = paths[: num_paths - 2 * split]
        self.val_paths = paths[num_paths - 2 * split : num_paths - split]
        self.test_paths = paths[num_paths - split :]
        self.times = torch.arange(length, dtype=torch.float32)
        self.num_channels = channels
        self.normaliser = AffineNormaliser()
        self.batch_size = batch_size
        self.shuffle = shuffle

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_paths, batch_size=self.batch_size, shuffle=self.shuffle, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_paths, batch_size=self.batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_paths, batch_size=self.batch_size)


SOLVE_OPTIONS = {"method": "reversible_heun", "gradient": "reversible", "brownian": "interval", "dt": 1.0,
                 "coupling": None}
# One compatible method per gradient method (reversible_heun's adjoint is its exact discrete adjoint).
GRADIENT_CASES = [("reversible_heun", "direct"), ("reversible_heun", "reversible"), ("reversible_heun", "adjoint")]


def solve_options(method: str = "reversible_heun", gradient: str = "reversible") -> dict:
    return {**SOLVE_OPTIONS, "method": method, "gradient": gradient}


def quiet_trainer(root, max_steps: int, callbacks=(), checkpoint_every: int | None = None, **kwargs) -> pl.Trainer:
    """A CPU trainer without progress bar or logger; optional ModelCheckpoint every n steps into root."""
    callbacks = list(callbacks)
    if checkpoint_every is not None:
        callbacks.append(pl.callbacks.ModelCheckpoint(
            dirpath=str(root), every_n_train_steps=checkpoint_every, save_top_k=-1,
            filename="{step}", save_on_train_epoch_end=False,
        ))
    options = dict(
        accelerator="cpu", devices=1, max_steps=max_steps, max_epochs=-1, logger=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        enable_checkpointing=checkpoint_every is not None, limit_val_batches=1,
        val_check_interval=2, check_val_every_n_epoch=None, default_root_dir=str(root),
    )
    options.update(kwargs)
    return pl.Trainer(callbacks=callbacks, **options)


def parameter_vector(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])

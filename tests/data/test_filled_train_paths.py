"""The datamodule fills the train paths' missing values once for a module that reads them only filled (the SDE-GAN)
and serves them as stored, NaN included, to any other (the latent SDE's likelihood needs to know what was observed)."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from tests.training.training_helpers import quiet_trainer, solve_options

from sdegan.data import OUDataModule
from sdegan.paths import fill_missing
from sdegan.training import SDEGAN, LatentSDE


class _StoredPathsSDEGAN(SDEGAN):
    """The SDE-GAN as it was before: train batches with their NaNs, filled by the discriminator every step."""

    TAKES_FILLED_TRAIN_PATHS = False


class _BatchesAndLosses(pl.Callback):
    def __init__(self) -> None:
        self.batches: list[torch.Tensor] = []
        self.losses: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batches.append(batch.clone())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(trainer.callback_metrics["train/loss"]))


def _datamodule() -> OUDataModule:
    return OUDataModule(num_paths=60, length=6, missing_fraction=0.4, batch_size=8, seed=1)


def _fit(tmp_path, make_model) -> tuple[OUDataModule, _BatchesAndLosses]:
    datamodule = _datamodule()
    datamodule.setup()
    pl.seed_everything(0)
    model = make_model(datamodule)
    recorder = _BatchesAndLosses()
    quiet_trainer(tmp_path, max_steps=4, callbacks=[recorder], limit_val_batches=0).fit(model, datamodule=datamodule)
    return datamodule, recorder


def _sde_gan(cls):
    def make(datamodule):
        return cls(datamodule.num_channels, datamodule.times, solve_options(), hidden_size=8, width=8, swa_start=None)

    return make


def _rows_of(batch: torch.Tensor, paths: torch.Tensor) -> bool:
    """Whether every row of ``batch`` is one of ``paths`` (NaNs compared as equal)."""
    return all(any(torch.equal(row.nan_to_num(7.5), path.nan_to_num(7.5)) for path in paths) for row in batch)


def test_the_sde_gan_gets_train_paths_filled_once_for_the_split(tmp_path):
    datamodule, recorder = _fit(tmp_path, _sde_gan(SDEGAN))
    assert torch.isnan(datamodule.train_paths).any()  # the stored paths keep what is missing
    filled = datamodule.filled_train_paths()
    assert filled is datamodule.filled_train_paths()  # computed once, then kept
    assert torch.equal(filled, fill_missing(datamodule.train_paths))
    assert len(recorder.batches) == 4
    for batch in recorder.batches:
        assert not torch.isnan(batch).any() and _rows_of(batch, filled)


def test_filled_train_paths_give_the_sde_gan_the_same_losses_as_filling_every_batch(tmp_path):
    _, filled_once = _fit(tmp_path / "filled", _sde_gan(SDEGAN))
    _, per_batch = _fit(tmp_path / "stored", _sde_gan(_StoredPathsSDEGAN))
    assert any(torch.isnan(batch).any() for batch in per_batch.batches)  # these batches were filled in the step
    assert filled_once.losses == per_batch.losses


def test_the_latent_sde_gets_train_paths_as_stored_with_their_missing_values(tmp_path):
    def latent_sde(datamodule):
        return LatentSDE(datamodule.num_channels, datamodule.times, solve_options(), context_size=4, hidden_size=8,
                         width=8)

    datamodule, recorder = _fit(tmp_path, latent_sde)
    assert any(torch.isnan(batch).any() for batch in recorder.batches)
    for batch in recorder.batches:
        assert _rows_of(batch, datamodule.train_paths)

"""A fit resumed from a checkpoint written part-way through an epoch ends exactly like the uninterrupted fit.

Uses the real PathDataModule (its resumable train loader is what is under test) on a tiny OU dataset: 32 train
paths in batches of 8, so 4 steps per epoch; checkpoints every 3 steps fall mid-epoch. The slow tests do the same
through ``sdegan-train`` (one process and DDP with two CPU processes), resuming from ``last.ckpt``.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from tests.training.training_helpers import quiet_trainer, solve_options

from sdegan.data import OUDataModule
from sdegan.training import SDEGAN, LatentSDE

STEPS = 10


class _BatchRecorder(pl.Callback):
    """The batch each training step sees, by global step."""

    def __init__(self):
        self.batches = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.batches[trainer.global_step] = batch.clone()


def _fit(model_name, root, ckpt_path=None, checkpoint_every=None):
    pl.seed_everything(0)
    dm = OUDataModule(num_paths=40, length=6, batch_size=8, seed=0, val_fraction=0.1, test_fraction=0.1)
    dm.setup()
    assert len(dm.train_paths) == 32
    if model_name == "sde_gan":
        model = SDEGAN(dm.num_channels, dm.times, solve_options(), hidden_size=8, width=8, swa_start=5)
    else:
        model = LatentSDE(dm.num_channels, dm.times, solve_options(), hidden_size=8, width=8, context_size=4,
                          latent_size=4, kl_anneal_steps=6)
    recorder = _BatchRecorder()
    trainer = quiet_trainer(root, max_steps=STEPS, callbacks=[recorder], checkpoint_every=checkpoint_every)
    trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
    assert trainer.global_step == STEPS
    return model, recorder.batches


def _assert_same_fit(full, resumed, resumed_from):
    (full_model, full_batches), (resumed_model, resumed_batches) = full, resumed
    assert sorted(resumed_batches) == list(range(resumed_from, STEPS))
    for step, batch in resumed_batches.items():
        torch.testing.assert_close(batch, full_batches[step], rtol=0, atol=0, equal_nan=True,
                                   msg=f"different batch at step {step}")
    for name, tensor in full_model.state_dict().items():
        assert torch.equal(tensor, resumed_model.state_dict()[name]), name


@pytest.mark.parametrize("model_name", ["sde_gan", "latent_sde"])
def test_resume_from_mid_epoch_and_epoch_end_checkpoints_equals_uninterrupted_run(tmp_path, model_name):
    full = _fit(model_name, tmp_path / "full", checkpoint_every=3)
    # Step 3: one batch short of the end of epoch 0; step 9: one batch into epoch 2.
    for step in (3, 9):
        resumed = _fit(model_name, tmp_path / f"resumed{step}", ckpt_path=str(tmp_path / "full" / f"step={step}.ckpt"))
        _assert_same_fit(full, resumed, resumed_from=step)


def test_resume_from_the_last_batch_of_an_epoch_starts_the_next_epoch(tmp_path):
    full = _fit("sde_gan", tmp_path / "full", checkpoint_every=4)
    resumed = _fit("sde_gan", tmp_path / "resumed", ckpt_path=str(tmp_path / "full" / "step=8.ckpt"))
    _assert_same_fit(full, resumed, resumed_from=8)


CLI_TINY = [
    "logger=none", "metrics=quick", "summary_samples=16", "trainer.enable_progress_bar=false",
    "trainer.val_check_interval=2", "dataset.num_paths=40", "dataset.length=6", "dataset.batch_size=8",
    "model.hidden_size=8", "model.width=8", "model.swa_start=3",
]


def _train_cli(run_dir, *overrides):
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1"}
    command = [str(Path(sys.executable).parent / "sdegan-train"), *CLI_TINY, *overrides, f"hydra.run.dir={run_dir}"]
    result = subprocess.run(command, cwd=run_dir.parent, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2], ids=["single", "ddp"])
def test_cli_run_resumed_from_a_mid_epoch_last_checkpoint_equals_uninterrupted_run(tmp_path, processes):
    # 32 train paths in batches of 8: 4 steps per epoch (2 per process under DDP); step 5 is mid-epoch.
    devices = [f"trainer.devices={processes}"] + (["trainer.strategy=ddp"] if processes > 1 else [])
    full = _train_cli(tmp_path / "full", *devices, "trainer.max_steps=8", "trainer.checkpoint_every_n_steps=4")
    part = _train_cli(tmp_path / "part", *devices, "trainer.max_steps=5", "trainer.checkpoint_every_n_steps=5")
    assert part["global_step"] == 5
    assert part["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [
        {"epoch": 1, "position": 8} if processes == 1 else {"epoch": 2, "position": 8}
    ]
    resumed = _train_cli(tmp_path / "resumed", *devices, "trainer.max_steps=8", "trainer.checkpoint_every_n_steps=4",
                         f"ckpt_path={tmp_path / 'part' / 'checkpoints' / 'last.ckpt'}")
    assert resumed["global_step"] == full["global_step"] == 8
    for name, tensor in full["state_dict"].items():
        assert torch.equal(tensor, resumed["state_dict"][name]), name

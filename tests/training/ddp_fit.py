"""Run by test_ddp.py: a tiny SDE-GAN fit under DDP with 2 CPU processes; each rank saves its parameters."""

import sys

import pytorch_lightning as pl
import torch

from sdegan.training import SDEGAN
from tests.training.training_helpers import SyntheticPathDataModule, solve_options


def main(output_dir: str) -> None:
    torch.set_num_threads(1)
    pl.seed_everything(0)
    dm = SyntheticPathDataModule(num_paths=64, length=6, batch_size=8)
    model = SDEGAN(dm.num_channels, dm.times, solve_options(), hidden_size=8, width=8, swa_start=2)
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", max_steps=4, logger=False,
        enable_progress_bar=False, enable_checkpointing=False, limit_val_batches=1,
        val_check_interval=2, check_val_every_n_epoch=None, num_sanity_val_steps=0,
        default_root_dir=output_dir,
    )
    trainer.fit(model, datamodule=dm)
    state = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    next_noise = torch.randn(8)  # what the generator would draw next on this rank
    torch.save({"state": state, "global_step": trainer.global_step, "world_size": trainer.world_size,
                "next_noise": next_noise},
               f"{output_dir}/rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    main(sys.argv[1])

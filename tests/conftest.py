"""Suite-wide settings: offline wandb, one torch thread per process (the CI machine has 2 cores)."""

import os

import pytest
import torch

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield

"""The SDE-GAN trains under DDP with 2 CPU processes: the replicas stay identical while each process
draws its own generator noise (not the same fake batch on every process)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_sde_gan_under_ddp_with_two_cpu_processes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.training.ddp_fit", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    assert all(r["world_size"] == 2 and r["global_step"] == 4 for r in ranks)
    for name, tensor in ranks[0]["state"].items():
        assert torch.isfinite(tensor).all(), name
        assert torch.equal(tensor, ranks[1]["state"][name]), name
    assert not torch.equal(ranks[0]["next_noise"], ranks[1]["next_noise"])

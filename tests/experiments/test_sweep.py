"""The documented sweep `sdegan-train -m solver=midpoint,reversible_heun seed=0,1,2` completes with both local
launchers (tiny budget), through scripts/sweep_example.sh."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
TINY = ["trainer.max_steps=2", "dataset.num_paths=128", "dataset.batch_size=32", "summary_samples=32",
        "metrics=quick", "logger=csv", "trainer.enable_progress_bar=false", "trainer.val_check_interval=2",
        "trainer.checkpoint_every_n_steps=2"]


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_sweep_completes(launcher, tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1", "SDEGAN_JOBS": "2"}
    command = ["bash", str(REPOSITORY / "scripts" / "sweep_example.sh"), launcher, *TINY,
               f"hydra.sweep.dir={tmp_path}"]
    result = subprocess.run(command, cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summaries = sorted(tmp_path.glob("*/summary.json"))
    assert len(summaries) == 6, sorted(p.name for p in tmp_path.iterdir())
    runs = set()
    for path in summaries:  # run folders are <num>_<key=value,...> (sdegan/configs/hydra/default.yaml)
        choices = dict(item.split("=", 1) for item in path.parent.name.split("_", 1)[1].split(","))
        runs.add((choices["solver"], choices["seed"]))
        assert math.isfinite(json.loads(path.read_text())["mmd_trained"])
    assert runs == {(solver, str(seed)) for seed in range(3) for solver in ("midpoint", "reversible_heun")}


def test_sweep_script_rejects_an_unknown_launcher():
    result = subprocess.run(["bash", str(REPOSITORY / "scripts" / "sweep_example.sh"), "kubernetes"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "valid: basic, joblib, slurm" in result.stderr

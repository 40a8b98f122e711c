"""Running the console scripts as a user does, for the fault tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
# A run of a few seconds: 32 train paths of length 6 in batches of 8 (4 steps per epoch).
SMALL = [
    "logger=none", "metrics=quick", "summary_samples=16", "trainer.enable_progress_bar=false",
    "trainer.val_check_interval=2", "dataset.num_paths=40", "dataset.length=6", "dataset.batch_size=8",
    "model.hidden_size=8", "model.width=8",
]


def environment() -> dict[str, str]:
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1", "PYTHONPATH": path}


def run(command: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=environment(), capture_output=True, text=True, timeout=timeout)


def train(run_dir: Path, *overrides: str, small: bool = True) -> subprocess.CompletedProcess:
    """``sdegan-train`` into ``run_dir`` (the SMALL settings first, then ``overrides``)."""
    arguments = [*(SMALL if small else []), *overrides, f"hydra.run.dir={run_dir}"]
    return run([str(BIN / "sdegan-train"), *arguments], cwd=run_dir.parent)


def train_with_fault(fault: str, run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    """``sdegan-train`` with a simulated fault (see inject_faults.py)."""
    script = Path(__file__).with_name("inject_faults.py")
    return run([sys.executable, str(script), fault, *SMALL, *overrides, f"hydra.run.dir={run_dir}"], cwd=run_dir.parent)


def final_line(result: subprocess.CompletedProcess) -> str:
    """The one line a failed run ends with (stderr), asserting there is no traceback."""
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-4000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return lines[-1]

"""Tiny training runs shared by the entry-point tests, and the console scripts as a user runs them."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent
TINY = [
    "trainer.max_steps=3",
    "trainer.log_every_n_steps=1",
    "trainer.val_check_interval=2",
    "trainer.checkpoint_every_n_steps=2",
    "dataset.batch_size=32",
    "summary_samples=64",
    "metrics=quick",
    "logger=none",
]
CHANNELS = ["heart_rate", "temperature"]


def run(program: str, arguments: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``program`` (a console script, or its module where the installed scripts predate it) with ``arguments``."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1"}
    script = BIN / program
    module = "sdegan." + program.removeprefix("sdegan-")
    command = [str(script)] if script.exists() else [sys.executable, "-c", f"from {module} import main; main()"]
    return subprocess.run(command + arguments, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def failure(result: subprocess.CompletedProcess) -> str:
    return result.stdout[-3000:] + result.stderr[-3000:]


def write_regular_csv(path: Path, num_series: int = 96, length: int = 12, seed: int = 0) -> Path:
    """Long-format CSV on one time grid (every 0.5 h), two channels with their own units and 5% empty cells."""
    rng = np.random.default_rng(seed)
    lines = ["patient,t," + ",".join(CHANNELS)]
    for series in range(num_series):
        level = rng.normal(70, 5)
        for step in range(length):
            heart = "" if rng.random() < 0.05 else f"{level + 3 * rng.standard_normal():.3f}"
            lines.append(f"p{series},{0.5 * step},{heart},{37 + 0.4 * rng.standard_normal():.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


@functools.cache
def tiny_checkpoint(*arguments: str) -> Path:
    """``last.ckpt`` of a tiny ``sdegan-train`` run with ``arguments`` (trained once per test session)."""
    run_dir = temporary_folder("sdegan_tiny_run_")
    result = run("sdegan-train", [*TINY, *arguments, f"hydra.run.dir={run_dir}"], cwd=run_dir)
    assert result.returncode == 0, failure(result)
    return run_dir / "checkpoints" / "last.ckpt"


def temporary_folder(prefix: str) -> Path:
    """A new folder, removed when the test session's process ends."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@functools.cache
def data_folder() -> Path:
    """A folder for the data files of the tiny runs (shared by the test session)."""
    return temporary_folder("sdegan_tiny_data_")


def regular_csv_checkpoint(model: str) -> tuple[Path, Path]:
    """(checkpoint, CSV) of a tiny run of ``model`` on :func:`write_regular_csv` data."""
    csv = data_folder() / "regular.csv"
    if not csv.exists():
        write_regular_csv(csv)
    checkpoint = tiny_checkpoint(
        "dataset=csv", f"dataset.path={csv}", "dataset.id_column=patient", "dataset.time_column=t", f"model={model}"
    )
    return checkpoint, csv

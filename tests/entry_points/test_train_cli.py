"""The console scripts as a user runs them: composed config, a tiny default fit, evaluation, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
TINY = [
    "trainer.max_steps=3",
    "trainer.log_every_n_steps=1",
    "trainer.val_check_interval=2",
    "trainer.checkpoint_every_n_steps=2",
    "dataset.num_paths=160",
    "dataset.batch_size=32",
    "summary_samples=64",
    "metrics=quick",
]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """One tiny fit of the default config (every default group choice, tiny sizes)."""
    run_dir = tmp_path_factory.mktemp("run")
    result = run([str(BIN / "sdegan-train"), *TINY, f"hydra.run.dir={run_dir}"], cwd=run_dir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, run_dir


def test_default_fit_writes_the_run_directory(tiny_run):
    result, run_dir = tiny_run
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    metrics_csv = run_dir / "csv" / "metrics.csv"
    assert metrics_csv.is_file() and "train/" in metrics_csv.read_text()
    assert list((run_dir / "wandb").glob("offline-run-*")), "no offline wandb run"
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (run_dir / "samples.png").stat().st_size > 10_000
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["mmd_trained"] >= 0 or summary["mmd_trained"] > -1e-3  # unbiased MMD^2 may dip below 0
    assert "trained generator:" in result.stdout and "untrained generator:" in result.stdout
    assert "real training paths:" in result.stdout and abs(summary["mmd_real"]) <= 4.0


def test_evaluate_prints_all_three_metrics(tiny_run):
    _, run_dir = tiny_run
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    out = run_dir / "evaluation"
    result = run(
        [str(BIN / "sdegan-evaluate"), f"checkpoint={checkpoint}", "metrics=quick", f"hydra.run.dir={out}"],
        cwd=run_dir,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("test/mmd", "test/classification", "test/prediction_tstr", "test/prediction_trtr"):
        assert name in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test/classification"] <= 1.0


def test_evaluate_missing_checkpoint_says_so(tmp_path):
    result = run([str(BIN / "sdegan-evaluate"), "checkpoint=nowhere.ckpt", f"hydra.run.dir={tmp_path}"], cwd=tmp_path)
    assert result.returncode != 0
    assert "nowhere.ckpt does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_cfg_job_prints_composed_config(tmp_path):
    result = run([str(BIN / "sdegan-train"), "--cfg", "job"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for key in ("dataset:", "model:", "solver:", "gradient:", "brownian:", "trainer:", "max_steps:"):
        assert key in result.stdout


def test_unknown_solver_names_valid_choices(tmp_path):
    result = run([str(BIN / "sdegan-train"), "solver=nonexistent"], cwd=tmp_path)
    assert result.returncode != 0
    assert "Could not find 'solver/nonexistent'" in result.stderr
    assert "reversible_heun" in result.stderr and "midpoint" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_solver_combination_is_a_clear_error(tmp_path):
    result = run(
        [str(BIN / "sdegan-train"), "solver=midpoint", "gradient=reversible", "logger=none", *TINY,
         f"hydra.run.dir={tmp_path}"],
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "gradient='reversible' is not available for method='midpoint'" in result.stderr
    assert "reversible_heun" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_dataset_file_says_where_to_get_it(tmp_path):
    result = run(
        [str(BIN / "sdegan-train"), "dataset=air_quality", f"dataset.path={tmp_path}/missing.zip",
         "logger=none", f"hydra.run.dir={tmp_path}"],
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "PRSA2017_Data_20130301-20170228.zip" in result.stderr
    assert "download_air_quality.sh" in result.stderr
    assert "Traceback" not in result.stderr

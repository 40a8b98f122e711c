"""The signature-kernel programs: the cost benchmark and the training-objectives comparison (quick mode), and
their committed results."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.experiments.results_files import EXPERIMENTS, check_results

RESULTS = Path(__file__).resolve().parents[2] / "results"


def run_program(name: str, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(EXPERIMENTS / f"{name}.py"), *args], env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_signature_kernel_cost_quick(tmp_path):
    args = ["--quick", "--output-dir", str(tmp_path)]
    run_program("signature_kernel_cost", args)
    table = check_results(tmp_path, "signature_kernel_cost", args)
    assert (table.forward_s > 0).all() and (table.saved_MB > 0).all()
    unbounded = table[table.max_pairs.astype(str) == "none"].iloc[0]
    chunked = table[(table.m == unbounded.m) & (table.max_pairs.astype(str) != "none")].iloc[0]
    # Checkpointed chunks keep only their inputs for the backward pass, not every pair's PDE grid.
    assert chunked.saved_MB < unbounded.saved_MB


@pytest.mark.slow
def test_training_objectives_quick_and_its_skipping_of_finished_runs(tmp_path):
    args = ["--quick", "--tasks", "ou", "--output-dir", str(tmp_path / "results"), "--runs-dir", str(tmp_path / "runs")]
    run_program("training_objectives", args)
    table = check_results(tmp_path / "results", "training_objectives", args)
    assert list(table.objective) == ["SDE-GAN (clipped)", "signature-kernel score", "latent SDE"]
    assert (table.steps_mean > 0).all() and table.classification_mean.between(0, 1).all()
    runs = pd.read_csv(tmp_path / "results" / "training_objectives_runs.csv")
    second = run_program("training_objectives", args)
    assert second.stderr.count("not trained again") == 3
    assert pd.read_csv(tmp_path / "results" / "training_objectives_runs.csv").equals(runs)
    # A column added to the table after runs were done is read again from their run folders.
    runs.drop(columns=["predictive_score"]).to_csv(tmp_path / "results" / "training_objectives_runs.csv", index=False)
    run_program("training_objectives", args)
    refreshed = pd.read_csv(tmp_path / "results" / "training_objectives_runs.csv")
    assert refreshed.predictive_score.tolist() == runs.predictive_score.tolist()


@pytest.mark.parametrize("name", ["signature_kernel_cost", "training_objectives"])
def test_committed_results_agree_and_are_not_quick_runs(name):
    if not (RESULTS / f"{name}.md").exists():
        pytest.skip(f"results/{name}.md has not been produced on this checkout")
    check_results(RESULTS, name, [])
    command = re.search(r"^Command: `(.+)`$", (RESULTS / f"{name}.md").read_text(), flags=re.MULTILINE).group(1)
    assert "--quick" not in command.split()

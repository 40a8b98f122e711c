"""The training comparisons (reversible Heun vs midpoint, clipping vs gradient penalty) in quick mode: each
trains tiny runs through `sdegan-train` and writes agreeing, self-describing results."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.experiments.results_files import EXPERIMENTS, check_results


def run_program(name: str, args: list[str]) -> None:
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(EXPERIMENTS / f"{name}.py"), *args], env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.slow
def test_reversible_heun_vs_midpoint_quick(tmp_path):
    args = ["--quick", "--output-dir", str(tmp_path / "results"), "--runs-dir", str(tmp_path / "runs")]
    run_program("reversible_heun_vs_midpoint", args)
    table = check_results(tmp_path / "results", "reversible_heun_vs_midpoint", args)
    assert set(table.setting) == {"ou_sde_gan/reversible_heun", "ou_sde_gan/midpoint",
                                  "ou_latent_sde/reversible_heun", "ou_latent_sde/midpoint"}
    assert (table.train_time_s_mean > 0).all() and (table.forward_evaluations_per_step_mean > 0).all()
    assert (table.steps_mean == 2).all() and (table.generator_updates_mean == 2).all()
    rows = table.set_index("setting")
    # Midpoint evaluates the vector fields twice per step and backpropagates through both; reversible Heun
    # evaluates once per step and its backward pass re-evaluates once per step, with one VJP each.
    midpoint, heun = rows.loc["ou_sde_gan/midpoint"], rows.loc["ou_sde_gan/reversible_heun"]
    assert midpoint.backward_vjps_per_step_mean == midpoint.forward_evaluations_per_step_mean
    assert heun.backward_vjps_per_step_mean == heun.forward_evaluations_per_step_mean / 2
    assert midpoint.backward_vjps_per_step_mean > heun.backward_vjps_per_step_mean
    assert table.classification_mean.between(0, 1).all()


@pytest.mark.slow
def test_clipping_vs_gradient_penalty_quick(tmp_path):
    args = ["--quick", "--output-dir", str(tmp_path / "results"), "--runs-dir", str(tmp_path / "runs"),
            "--generator-updates", "2", "--jobs", "2", "--target-mmd", "1e9"]
    run_program("clipping_vs_gradient_penalty", args)
    table = check_results(tmp_path / "results", "clipping_vs_gradient_penalty", args)
    assert set(table.setting) == {"ou_sde_gan/clip", "ou_sde_gan/gradient_penalty"}
    assert (table.train_time_s_mean > 0).all()
    rows = table.set_index("setting")
    assert (rows.generator_updates_mean == 2).all()  # equal generator updates
    assert rows.steps_mean["ou_sde_gan/gradient_penalty"] == 12 and rows.steps_mean["ou_sde_gan/clip"] == 2
    # The penalty's double backward: more backward work per step than clipping's one reversible backward.
    vjps = rows.backward_vjps_per_step_mean
    assert vjps["ou_sde_gan/gradient_penalty"] > vjps["ou_sde_gan/clip"]


def test_missing_data_is_reported_not_trained(tmp_path):
    """A task whose data file is absent is skipped with a message naming the file (no training needed)."""
    from tests.experiments.results_files import load_experiment_module

    if load_experiment_module("training_runs").AIR_QUALITY_ARCHIVE.exists():
        pytest.skip("the air-quality archive is present on this machine (the task would train)")
    args = ["--tasks", "air_quality_latent_sde", "--output-dir", str(tmp_path), "--runs-dir", str(tmp_path)]
    result = subprocess.run([sys.executable, str(EXPERIMENTS / "reversible_heun_vs_midpoint.py"), *args],
                            capture_output=True, text=True, timeout=120)
    if result.returncode == 0:
        pytest.skip("the air-quality file is present on this machine")
    assert "PRSA2017_Data_20130301-20170228.zip" in result.stderr
    assert not list(tmp_path.glob("*.csv"))

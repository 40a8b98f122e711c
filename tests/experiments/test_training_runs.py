"""Reading a finished sdegan-train run directory into one results row (no training needed)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from tests.experiments.results_files import load_experiment_module

training_runs = load_experiment_module("training_runs")


def write_run(run_dir, summary: dict, metrics: pd.DataFrame) -> None:
    (run_dir / "csv").mkdir(parents=True)
    (run_dir / "summary.json").write_text(json.dumps(summary))
    metrics.to_csv(run_dir / "csv" / "metrics.csv", index=False)


def test_read_run_sums_step_times_and_takes_the_test_metrics(tmp_path):
    # Lightning's CSV logger writes step rows and separate rows for other metrics (NaN in the step columns).
    metrics = pd.DataFrame({
        "step": [0, 1, 2, 2],
        "train/step_time": [0.5, 0.25, 0.25, math.nan],
        "solver/nfe": [100.0, 120.0, 120.0, math.nan],
        "summary/mmd_trained": [math.nan, math.nan, math.nan, 0.3],
    })
    write_run(tmp_path, {"mmd_trained": 0.3, "test/classification": 0.75, "test/mmd": 0.125,
                         "test/prediction_tstr": 2.0}, metrics)
    row = training_runs.read_run(tmp_path)
    assert row["train_time_s"] == pytest.approx(1.0)
    assert row["step_time_s"] == pytest.approx(0.25)
    assert row["nfe_per_step"] == 120.0
    assert row["classification"] == 0.75 and row["mmd"] == 0.125 and row["prediction_tstr"] == 2.0
    assert math.isnan(row["prediction_trtr"])  # not computed in this run: NaN, not a made-up number


def test_speedups_are_baseline_over_ours():
    setting = training_runs.Setting
    pair = training_runs.Pair("ou", setting("ou/ours", "ou_sde_gan"), setting("ou/base", "ou_sde_gan_midpoint"))
    raw = pd.DataFrame(dict(setting=["ou/ours", "ou/ours", "ou/base", "ou/base"], train_time_s=[1.0, 3.0, 4.0, 6.0],
                            step_time_s=[0.1, 0.1, 0.3, 0.3], nfe_per_step=[100, 100, 200, 200]))
    ratio = training_runs.speedups(raw, [pair])
    assert ratio.loc[0, "train_time_speedup"] == pytest.approx(2.5)
    assert ratio.loc[0, "step_time_speedup"] == pytest.approx(3.0)
    assert ratio.loc[0, "nfe_ratio"] == pytest.approx(2.0)

"""``sdegan-train model=sde_sigker_conditional`` trains from the command line, its test metrics in summary.json;
``sdegan-evaluate`` judges its continuations, ``sdegan-sample`` refuses it in one line."""

from __future__ import annotations

import json
import math

import pytest

from tests.entry_points.cli_helpers import final_line
from tests.entry_points.test_train_cli import BIN, TINY, run
from tests.entry_points.test_train_sigker_cli import dataset_overrides

SLOW = pytest.mark.slow  # ~20 s each on 2 cores; OU and the air-quality fixture (gaps) run by default


@pytest.mark.parametrize("dataset", [
    "ou", "air_quality", pytest.param("weights", marks=SLOW), pytest.param("air_quality_real", marks=SLOW),
])
def test_sde_sigker_conditional_trains_on_every_dataset(tmp_path, dataset):
    run_dir = tmp_path / "run"
    command = [str(BIN / "sdegan-train"), "model=sde_sigker_conditional", *dataset_overrides(dataset, tmp_path),
               *TINY, "trainer.max_steps=2", "test_after_fit=true", "logger=csv", f"hydra.run.dir={run_dir}"]
    result = run(command, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in ("mmd_trained", "test/score", "test/prediction_mse", "test/prediction_mse_persistence",
                "test/mmd", "test/classification", "test/prediction_tstr", "test/predictive_score"):
        assert math.isfinite(summary[key]), (key, summary)
    metrics = (run_dir / "csv" / "metrics.csv").read_text()
    assert "train/loss" in metrics and "val/prediction_mse" in metrics
    assert (run_dir / "checkpoints" / "last.ckpt").is_file() and (run_dir / "samples.png").is_file()
    if dataset == "ou":
        # sdegan-evaluate judges the forecaster's continuations of real prefixes, as the test metrics do ...
        checkpoint = run_dir / "checkpoints" / "last.ckpt"
        evaluation = run([str(BIN / "sdegan-evaluate"), f"checkpoint={checkpoint}", "metrics=quick",
                          f"hydra.run.dir={tmp_path / 'evaluate'}"], cwd=tmp_path)
        assert evaluation.returncode == 0, evaluation.stdout[-3000:] + evaluation.stderr[-3000:]
        assert "test/mmd" in evaluation.stdout + evaluation.stderr
        # ... while sdegan-sample, which asks for paths from nothing, refuses it in one line.
        sampling = run([str(BIN / "sdegan-sample"), f"checkpoint={checkpoint}", "num_samples=4",
                        f"output={tmp_path / 'samples.csv'}", f"hydra.run.dir={tmp_path / 'sample'}"], cwd=tmp_path)
        assert "only continues observed prefixes" in final_line(sampling)


def test_a_prefix_longer_than_the_paths_is_one_line(tmp_path):
    command = [str(BIN / "sdegan-train"), "model=sde_sigker_conditional", "model.prefix_length=64",
               "dataset.num_paths=160", "logger=none", f"hydra.run.dir={tmp_path / 'run'}"]
    line = final_line(run(command, cwd=tmp_path))
    assert "prefix_length=64 must leave" in line and "64 points" in line, line

"""Hyperparameter search: hparams_search=sde_gan_optuna runs Optuna trials of sdegan-train, which returns the
optimised metric; sdegan-collect gathers the trials into one table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

REPOSITORY = Path(__file__).resolve().parents[2]
TINY = ["trainer.max_steps=2", "dataset.num_paths=128", "dataset.batch_size=32", "summary_samples=32",
        "metrics=quick", "logger=csv", "trainer.enable_progress_bar=false", "trainer.val_check_interval=2",
        "trainer.checkpoint_every_n_steps=2"]


def _train(*overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPOSITORY)}
    command = [sys.executable, "-c", "from sdegan.train import main; main()", *overrides]
    return subprocess.run(command, cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=900)


def test_optuna_search_of_two_trials_then_collect(tmp_path: Path) -> None:
    result = _train("hparams_search=sde_gan_optuna", "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.n_startup_trials=2",
                    f"hydra.sweep.dir={tmp_path}", *TINY)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    trials = sorted(tmp_path.glob("*/summary.json"))
    assert len(trials) == 2
    values = [json.loads(path.read_text())["mmd_trained"] for path in trials]
    assert best["best_value"] == min(values)  # Optuna received what sdegan-train returned
    assert set(best["best_params"]) == {"model.generator_lr", "model.discriminator_lr", "model.weight_decay",
                                        "model.hidden_size", "model.width"}

    from sdegan.collect import main

    main([str(tmp_path), "--by", "model.hidden_size"])
    table = pd.read_csv(tmp_path / "collected.csv")
    assert table["n"].sum() == 2 and "mmd_trained_mean" in table.columns


def test_unknown_optimized_metric_is_one_line(tmp_path: Path) -> None:
    result = _train("optimized_metric=test/nothing", f"hydra.run.dir={tmp_path}", *TINY)
    assert result.returncode != 0
    assert "optimized_metric='test/nothing' is not in the run's summary" in result.stderr
    assert "Traceback" not in result.stderr

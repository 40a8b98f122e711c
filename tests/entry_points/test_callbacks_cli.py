"""Callbacks and debug presets from the command line: an early-stopping callback and a user's own callback
added with ``+callbacks.<name>=...``, the curves of a resumed run, ``debug=<preset>`` runs, and the one-line
error for ``trainer.callbacks``."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir

from sdegan import builders
from sdegan.errors import ConfigurationError
from sdegan.training.callbacks import read_training_curves
from tests.entry_points.cli_helpers import REPO, train
from sdegan.config_dir import CONFIG_DIR

EARLY_STOP = ("+callbacks.stop={_target_:pytorch_lightning.callbacks.EarlyStopping,monitor:val/mmd,patience:1,"
              "min_delta:10}")  # the MMD^2 never falls by 10: stops at the second validation (step 4)


def compose_train(overrides: list[str]):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def early_stopped_run(folder):
    """A run with early stopping and a user's callback added on the command line; returns its directory."""
    first = folder / "first"
    marker = folder / "final_step.txt"
    result = train(first, "trainer.max_steps=30", EARLY_STOP,
                   "+callbacks.mine._target_=tests.entry_points.user_callbacks.WriteFinalStep",
                   f"+callbacks.mine.path={marker}")
    assert result.returncode == 0, result.stderr[-3000:]
    return first


def test_early_stopping_and_a_users_callback_added_from_the_command_line(tmp_path):
    first = early_stopped_run(tmp_path)
    assert (tmp_path / "final_step.txt").read_text() == "4"
    curves = read_training_curves(first / "training_curves.csv")
    assert [s for s, _ in curves["train/loss"]] == [1, 2, 3, 4]
    assert [s for s, _ in curves["val/mmd"]] == [2, 4]
    assert torch.load(first / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 4
    assert (first / "training_curves.png").stat().st_size > 10_000


@pytest.mark.slow
def test_a_resumed_run_continues_the_curves_of_the_run_it_resumes(tmp_path):
    first = early_stopped_run(tmp_path)
    resumed = tmp_path / "resumed"
    result = train(resumed, "trainer.max_steps=6", f"ckpt_path={first / 'checkpoints' / 'last.ckpt'}")
    assert result.returncode == 0, result.stderr[-3000:]
    curves = read_training_curves(resumed / "training_curves.csv")
    assert [s for s, _ in curves["train/loss"]] == [1, 2, 3, 4, 5, 6]
    assert [s for s, _ in curves["val/mmd"]] == [2, 4, 6]


def test_the_early_stopping_preset_adds_early_stopping_on_val_mmd_to_the_default_callbacks():
    default = compose_train([])
    cfg = compose_train(["callbacks=early_stopping"])
    assert set(cfg.callbacks) == set(default.callbacks) | {"early_stopping"}
    assert cfg.callbacks.early_stopping.monitor == "val/mmd"
    assert cfg.callbacks.early_stopping._target_ == "pytorch_lightning.callbacks.EarlyStopping"


@pytest.mark.parametrize("key", ["callbacks", "logger"])
def test_trainer_callbacks_or_logger_is_a_one_line_error_naming_the_group(key):
    cfg = compose_train([f"+trainer.{key}=[]"])
    with pytest.raises(ConfigurationError, match=rf"trainer\.{key} is set by sdegan-train from the {key} group"):
        builders.trainer_kwargs(cfg)


def test_a_callback_entry_without_target_is_refused_naming_it():
    cfg = compose_train(["~callbacks.checkpoint", "+callbacks.broken.patience=3"])  # (checkpoint: a run directory)
    with pytest.raises(ConfigurationError, match="callbacks.broken must be a mapping with a _target_"):
        builders.build_callbacks(cfg)


def test_debug_fast_dev_run_runs_one_step(tmp_path):
    result = train(tmp_path / "run", "debug=fast_dev_run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Running in `fast_dev_run` mode" in result.stdout + result.stderr
    assert [s for s, _ in read_training_curves(tmp_path / "run" / "training_curves.csv")["train/loss"]] == [1]


@pytest.mark.slow
@pytest.mark.parametrize("preset,expected", [("overfit", "overfit_batches=1"), ("profiler", "FIT Profiler Report")])
def test_debug_presets_run(tmp_path, preset, expected):
    result = train(tmp_path / "run", f"debug={preset}", "trainer.max_steps=4", "trainer.val_check_interval=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert expected in result.stdout + result.stderr

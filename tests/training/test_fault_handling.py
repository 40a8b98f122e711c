"""Fault handling below the entry points (issue 14): atomic checkpoints, the final-step checkpoint, the
divergence guard, optimiser settings changed on resume, unreadable checkpoints, bad values, strict JSON."""

from __future__ import annotations

import errno
import json
import logging
import math
import zipfile
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir

from sdegan.errors import ConfigurationError, DataError, InputError, MissingFileError
from sdegan.run_config import CHECKPOINT_KEY, check_run_values, load_checkpoint
from sdegan.run_outputs import atomic_file, json_ready, write_json
from sdegan.train import CONFIG_DIR
from sdegan.training import (
    AtomicCheckpointIO, CheckpointWriteError, FinalStepCheckpoint, LatentSDE, NonFiniteLossError, SDEGAN,
)
from sdegan.training.instrumentation import DivergenceGuard
from sdegan.training.split_sizes import small_split_warnings
from tests.training.training_helpers import SyntheticPathDataModule, quiet_trainer, solve_options


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


# ------------------------------------------------------------------ atomic checkpoint files
def test_a_failed_checkpoint_write_leaves_the_previous_file_whole_and_no_temporary_file(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"global_step": 2, "weights": torch.arange(1000.0)}, path)
    before = path.read_bytes()

    def partial_then_full(obj, file, *args, **kwargs):
        file.write(b"\0" * 100)
        _no_space()

    monkeypatch.setattr(torch, "save", partial_then_full)
    with pytest.raises(CheckpointWriteError, match=f"could not write checkpoint {path}: No space left") as caught:
        io.save_checkpoint({"global_step": 4, "weights": torch.zeros(1000)}, path)
    assert caught.value.errno == errno.ENOSPC and caught.value.step == 4
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
    assert io.latest() == (path, 2)


def test_atomic_file_fsyncs_before_the_rename(tmp_path, monkeypatch):
    monkeypatch.setattr("sdegan.run_outputs.os.fsync", _no_space)
    with pytest.raises(OSError, match="No space"):
        with atomic_file(tmp_path / "a.json") as file:
            file.write(b"{}")
    assert list(tmp_path.iterdir()) == []


def test_latest_checkpoint_before_a_step_ignores_removed_ones(tmp_path):
    io = AtomicCheckpointIO()
    for step in (2, 4, 6):
        io.save_checkpoint({"global_step": step}, tmp_path / f"step{step}.ckpt")
        io.save_checkpoint({"global_step": step}, tmp_path / "last.ckpt")
    io.remove_checkpoint(tmp_path / "step2.ckpt")
    assert io.latest() == (tmp_path / "step6.ckpt", 6)
    assert io.latest(before_step=6) == (tmp_path / "step4.ckpt", 4)
    assert io.latest(before_step=4) is None


# ------------------------------------------------------------------ the final step is checkpointed first
class _RecordAtTrainEnd(pl.Callback):
    def on_train_end(self, trainer, pl_module):
        self.checkpoints = {p.name: torch.load(p, weights_only=False)["global_step"]
                            for p in Path(trainer.default_root_dir).glob("*.ckpt")}


def test_the_final_step_is_checkpointed_before_end_of_training_hooks(tmp_path):
    pl.seed_everything(0)
    dm = SyntheticPathDataModule(num_paths=64, length=6, batch_size=8)
    model = SDEGAN(dm.num_channels, dm.times, solve_options(), hidden_size=8, width=8, swa_start=None)
    recorder = _RecordAtTrainEnd()
    checkpoint = FinalStepCheckpoint(dirpath=str(tmp_path), filename="step{step}", auto_insert_metric_name=False,
                                     every_n_train_steps=2, save_last=True, save_top_k=1)
    trainer = quiet_trainer(tmp_path, max_steps=5, callbacks=[recorder, checkpoint], enable_checkpointing=True)
    trainer.fit(model, datamodule=dm)
    assert recorder.checkpoints == {"step5.ckpt": 5, "last.ckpt": 5}


# ------------------------------------------------------------------ divergence guard
def test_guard_names_the_first_non_finite_or_exploding_value_and_the_step():
    guard = DivergenceGuard(threshold=1e6)
    guard.watch("loss", torch.tensor(3.0))
    guard.watch("generated samples", torch.tensor([[1.0, -2e6]]))
    with pytest.raises(NonFiniteLossError, match=r"generated samples reached -?2e\+06 at training step 7, beyond "
                                                 r"divergence_threshold=1e\+06") as caught:
        guard.check(7)
    assert caught.value.step == 7
    guard.check(8)  # what was watched was cleared
    guard.watch("loss", torch.tensor(float("nan")))
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss \(nan\) at training step 9"):
        guard.check(9)


def test_guard_checks_all_gradients_at_once_for_finiteness_only():
    parameters = [torch.nn.Parameter(torch.zeros(3)) for _ in range(50)]
    for parameter in parameters:
        parameter.grad = torch.full((3,), 1e9)  # large but finite: gradients are not bounded by the threshold
    guard = DivergenceGuard(threshold=1.0)
    guard.watch_gradients(parameters)
    guard.check(0)
    parameters[37].grad[1] = float("nan")
    guard.watch_gradients(parameters)
    with pytest.raises(NonFiniteLossError, match=r"non-finite gradient \(nan\) at training step 1"):
        guard.check(1)


def test_guard_explains_an_error_caused_by_diverged_values_and_passes_others_on():
    guard = DivergenceGuard(threshold=None)
    with pytest.raises(NonFiniteLossError, match="non-finite generated samples"):
        with guard.explaining_failures(3):
            guard.watch("generated samples", torch.tensor([float("inf")]))
            raise DataError("a path has a channel with no observed value")
    with pytest.raises(KeyError):
        with guard.explaining_failures(4):
            guard.watch("generated samples", torch.tensor([1.0]))
            raise KeyError("a bug")


class _ExplodeGeneratorAfterStep(pl.Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == 2:
            with torch.no_grad():
                for parameter in pl_module.generator.readout.parameters():
                    parameter.fill_(1e8)


def test_samples_drawn_for_validation_go_through_the_guard(tmp_path):
    from sdegan.training import GeneratorMetricsCallback

    pl.seed_everything(0)
    dm = SyntheticPathDataModule(num_paths=64, length=6, batch_size=8)
    model = SDEGAN(dm.num_channels, dm.times, solve_options(), hidden_size=8, width=8, swa_start=None)
    callbacks = [_ExplodeGeneratorAfterStep(), GeneratorMetricsCallback(val_samples=8)]
    with pytest.raises(NonFiniteLossError, match="generated samples reached .* at training step 2, beyond"):
        quiet_trainer(tmp_path, max_steps=6, callbacks=callbacks).fit(model, datamodule=dm)


def test_guard_threshold_must_be_positive():
    with pytest.raises(ConfigurationError, match="divergence_threshold must be positive or null"):
        DivergenceGuard(threshold=0.0)


# ------------------------------------------------------------------ optimiser settings changed on resume
class _RecordLearningRates(pl.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.lrs = [group["lr"] for group in trainer.optimizers[0].param_groups]


def _latent(dm, lr):
    return LatentSDE(dm.num_channels, dm.times, solve_options(), hidden_size=8, width=8, context_size=4,
                     latent_size=4, lr=lr, lr_decay=0.9)


def test_a_learning_rate_changed_on_resume_is_applied_with_the_decay_so_far_and_reported(tmp_path, caplog):
    pl.seed_everything(0)
    dm = SyntheticPathDataModule(num_paths=64, length=6, batch_size=8)
    quiet_trainer(tmp_path, max_steps=4, checkpoint_every=4).fit(_latent(dm, lr=0.01), datamodule=dm)
    recorder = _RecordLearningRates()
    trainer = quiet_trainer(tmp_path / "resumed", max_steps=5, callbacks=[recorder])
    with caplog.at_level(logging.WARNING, logger="sdegan.training.base"):
        trainer.fit(_latent(dm, lr=0.001), datamodule=dm, ckpt_path=str(tmp_path / "step=4.ckpt"))
    assert recorder.lrs == [pytest.approx(0.001 * 0.9**4)]
    assert "resumed at step 4 with changed settings, applied from now on: lr=0.001 (the checkpoint had 0.01)" \
        in caplog.text


# ------------------------------------------------------------------ unreadable checkpoints
@pytest.fixture
def good_checkpoint(tmp_path) -> Path:
    path = tmp_path / "good.ckpt"
    torch.save({CHECKPOINT_KEY: {"seed": 0}, "state_dict": {"w": torch.randn(2000)}}, path)
    return path


def test_load_checkpoint_names_the_file_and_what_to_do_for_every_unreadable_kind(tmp_path, good_checkpoint):
    data = good_checkpoint.read_bytes()
    damaged = bytearray(data)
    damaged[len(data) // 3 : len(data) // 3 + 3000] = b"\x00" * 3000
    with zipfile.ZipFile(tmp_path / "other.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.pkl", "a,b\n" * 5000)
    damaged_zip = bytearray((tmp_path / "other.zip").read_bytes())
    damaged_zip[100:140] = b"\xff" * 40
    kinds = {"truncated": data[: len(data) // 2], "text": b"hello\n", "empty": b"", "damaged": bytes(damaged),
             "zip": (tmp_path / "other.zip").read_bytes(), "damaged_zip": bytes(damaged_zip)}
    for name, content in kinds.items():
        path = tmp_path / f"{name}.ckpt"
        path.write_bytes(content)
        with pytest.raises(InputError) as caught:
            load_checkpoint(path)
        message = str(caught.value)
        assert "\n" not in message and str(path) in message, (name, message)
        assert ("cannot be read" in message and "use another one" in message) or "not a checkpoint" in message, \
            (name, message)
    with pytest.raises(ConfigurationError, match=f"checkpoint {tmp_path} is a directory; give a checkpoint file, "
                                                 f"e.g. {tmp_path}/"):
        load_checkpoint(tmp_path)
    with pytest.raises(MissingFileError, match="does not exist"):
        load_checkpoint(tmp_path / "nowhere.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    with pytest.raises(ConfigurationError, match="is not a checkpoint written by sdegan-train"):
        load_checkpoint(tmp_path / "foreign.ckpt")
    assert load_checkpoint(good_checkpoint)[1].seed == 0


# ------------------------------------------------------------------ bad values
@pytest.fixture(scope="module")
def composed():
    def make(*overrides):
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            return compose(config_name="train", overrides=list(overrides))
    return make


@pytest.mark.parametrize("override, message", [
    ("trainer.max_steps=0", "trainer.max_steps must be a positive number of training steps"),
    ("trainer.max_steps=-5", "trainer.max_steps must be a positive number of training steps"),
    ("solver.dt=0", "solver.dt must be a positive step"),
    ("solver.dt=-0.1", "solver.dt must be a positive step"),
    ("model.hidden_size=0", "model.hidden_size must be a positive integer, got 0"),
    ("model.width=2.5", "model.width must be a positive integer, got 2.5"),
    ("seed=abc", "seed must be an integer, got 'abc'"),
    ("dataset.num_paths=3", "dataset.num_paths=3 splits into 1 train, 1 val, 1 test paths"),
    ("trainer.checkpoint_every_n_steps=0", "trainer.checkpoint_every_n_steps must be a positive integer"),
])
def test_bad_values_are_refused_naming_the_key(composed, override, message):
    with pytest.raises(ConfigurationError) as caught:
        check_run_values(composed(override))
    assert str(caught.value).startswith(message)


def test_unlimited_steps_need_an_epoch_limit_and_good_values_pass(composed):
    check_run_values(composed())
    check_run_values(composed("trainer.max_steps=-1", "trainer.max_epochs=3"))
    with pytest.raises(ConfigurationError, match="trainer.max_steps"):
        check_run_values(composed("trainer.max_steps=-1"))


def test_gpu_trainer_without_cuda_says_how_to_install_a_cuda_build(composed, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigurationError, match="sees no CUDA GPU; install a CUDA build of torch .*"
                                                 "SDEGAN_TORCH_INDEX_URL.* or use trainer=cpu"):
        check_run_values(composed("trainer=gpu"))


# ------------------------------------------------------------------ evidence
def test_json_outputs_write_null_for_nan_and_inf(tmp_path):
    data = {"a": math.nan, "b": [1.0, math.inf], "c": {"d": -math.inf, "e": 2}, "f": "text"}
    assert json_ready(data) == {"a": None, "b": [1.0, None], "c": {"d": None, "e": 2}, "f": "text"}
    write_json(tmp_path / "out.json", data)
    assert json.loads((tmp_path / "out.json").read_text(), parse_constant=pytest.fail) == json_ready(data)


def test_small_split_warnings_say_what_each_metric_gets():
    metrics = {"num_samples": 128, "prediction": {"num_train": 64}}
    (test_warning, train_warning) = small_split_warnings(num_train=10, num_test=2, metrics=metrics)
    assert "the test split has 2 paths, fewer than metrics.num_samples=128" in test_warning
    assert "classification accuracy is judged on 1 held-out path(s) per class" in test_warning
    assert "the train split has 10 paths, fewer than metrics.prediction.num_train=64" in train_warning
    assert small_split_warnings(num_train=64, num_test=128, metrics=metrics) == []

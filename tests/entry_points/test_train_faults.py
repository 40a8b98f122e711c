"""Faults in ``sdegan-train`` / ``sdegan-evaluate`` end in one clear line with nothing lost (issue 14)."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from tests.entry_points.cli_helpers import BIN, SMALL, environment, final_line, run, train, train_with_fault


def _step(checkpoint: Path) -> int:
    return int(torch.load(checkpoint, map_location="cpu", weights_only=False)["global_step"])


# ------------------------------------------------------------------ 1. full disk
def test_full_disk_at_a_checkpoint_keeps_the_last_good_one_and_says_where(tmp_path):
    run_dir = tmp_path / "run"
    # Checkpoints every 2 steps: writes 1-2 are step2.ckpt and last.ckpt, write 3 (step4.ckpt) hits the full disk.
    result = train_with_fault("checkpoint:3", run_dir, "trainer.max_steps=8", "trainer.checkpoint_every_n_steps=2")
    line = final_line(result)
    checkpoints = run_dir / "checkpoints"
    assert f"could not write step4.ckpt in {checkpoints.resolve()}" in line
    assert "No space left on device" in line
    assert f"the last good checkpoint is {(checkpoints / 'step2.ckpt').resolve()} (step 2)" in line
    assert "ckpt_path=" in line
    # Nothing half-written: the previous files are whole and load, no temporary file is left behind.
    assert sorted(p.name for p in checkpoints.iterdir()) == ["last.ckpt", "step2.ckpt"]
    assert _step(checkpoints / "last.ckpt") == _step(checkpoints / "step2.ckpt") == 2
    assert line in (run_dir / "train.log").read_text()


def test_full_disk_at_the_sample_plot_keeps_the_final_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    result = train_with_fault("samples", run_dir, "trainer.max_steps=5", "trainer.checkpoint_every_n_steps=2")
    line = final_line(result)
    assert f"could not write samples.png in {run_dir.resolve()}" in line
    assert f"the last good checkpoint is {(run_dir / 'checkpoints' / 'step5.ckpt').resolve()} (step 5)" in line
    assert _step(run_dir / "checkpoints" / "last.ckpt") == 5  # the final step, written before the plot


# ------------------------------------------------------------------ 2. divergence
@pytest.mark.parametrize("overrides", [
    ["model.generator_lr=1e6"], ["model.generator_lr=1e30"], ["model=latent_sde", "model.lr=30"],
], ids=["sde_gan_lr_1e6", "sde_gan_lr_1e30", "latent_sde_lr_30"])
def test_divergence_stops_with_the_step_and_the_last_good_checkpoint(tmp_path, overrides):
    run_dir = tmp_path / "run"
    result = train(run_dir, "trainer.max_steps=40", "trainer.checkpoint_every_n_steps=1", *overrides)
    line = final_line(result)
    assert line.startswith("sdegan-train stopped: training diverged: ")
    step = int(line.split(" at training step ")[1].split()[0].rstrip(",;"))
    if "the last good checkpoint is " in line:
        last_good = Path(line.split("the last good checkpoint is ")[1].split(" (step")[0])
        assert _step(last_good) < step and "resume from it with a lower learning rate" in line
    else:  # diverged before any checkpoint written before that step
        assert "no checkpoint was written before it; start again with a lower learning rate" in line
    assert not (run_dir / "summary.json").exists()


# ------------------------------------------------------------------ 4. resume
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished 5-step run (its last step is mid-epoch, between checkpoints every 2 steps)."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    result = train(run_dir, "trainer.max_steps=5", "trainer.checkpoint_every_n_steps=2", "logger=csv",
                   "trainer.log_every_n_steps=1")
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def _losses(run_dir: Path) -> dict[int, float]:
    with open(run_dir / "csv" / "metrics.csv") as file:
        return {int(row["step"]): float(row["train/loss"]) for row in csv.DictReader(file) if row.get("train/loss")}


def test_extending_a_finished_run_continues_like_an_uninterrupted_run(tmp_path, finished_run):
    logged = ["logger=csv", "trainer.log_every_n_steps=1", "trainer.checkpoint_every_n_steps=2"]
    full = train(tmp_path / "full", "trainer.max_steps=8", *logged)
    assert full.returncode == 0, full.stderr[-3000:]
    extended = train(tmp_path / "extended", "trainer.max_steps=8", *logged,
                     f"ckpt_path={finished_run / 'checkpoints' / 'last.ckpt'}")
    assert extended.returncode == 0, extended.stderr[-3000:]
    full_losses, extended_losses = _losses(tmp_path / "full"), _losses(tmp_path / "extended")
    assert sorted(extended_losses) == [5, 6, 7]
    assert extended_losses == {step: full_losses[step] for step in (5, 6, 7)}
    full_state = torch.load(tmp_path / "full" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    extended_state = torch.load(tmp_path / "extended" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    for name, tensor in full_state.items():
        assert torch.equal(tensor, extended_state[name]), name


@pytest.mark.parametrize("override, reason", [
    ("dataset.num_paths=48", "it was trained on other data (dataset.num_paths: 40 in the checkpoint, 48 now)"),
    pytest.param("seed=1", "it was trained on other data (dataset.seed: 0 in the checkpoint, 1 now)",
                 marks=pytest.mark.slow),
    ("model.hidden_size=12", "it holds another model (model.hidden_size: 8 in the checkpoint, 12 now)"),
    pytest.param("model=latent_sde", "it holds another model (model._target_: sdegan.training.SDEGAN in the "
                 "checkpoint, sdegan.training.LatentSDE now", marks=pytest.mark.slow),
])
def test_resume_onto_other_data_or_another_model_is_refused_with_the_reason(tmp_path, finished_run, override, reason):
    checkpoint = finished_run / "checkpoints" / "last.ckpt"
    line = final_line(train(tmp_path / "run", "trainer.max_steps=8", override, f"ckpt_path={checkpoint}"))
    assert line.startswith(f"sdegan-train: cannot resume from {checkpoint}: {reason}")


def test_a_learning_rate_changed_on_resume_is_applied_and_said(tmp_path, finished_run):
    result = train(tmp_path / "run", "trainer.max_steps=6", "model.generator_lr=0.0001",
                   f"ckpt_path={finished_run / 'checkpoints' / 'last.ckpt'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed at step 5 with changed settings, applied from now on: generator_lr=0.0001 (the checkpoint had 0.002)" \
        in result.stdout
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert [group["lr"] for group in state["optimizer_states"][0]["param_groups"]] == [0.0001, 0.01]


# ------------------------------------------------------------------ 5. unreadable checkpoints
# Every kind of unreadable file is checked on load_checkpoint in tests/training/test_fault_handling.py;
# here both entry points show its message as one line.
@pytest.mark.parametrize("program, key", [("sdegan-train", "ckpt_path"), ("sdegan-evaluate", "checkpoint")])
def test_unreadable_checkpoints_get_one_line_naming_the_file(tmp_path, finished_run, program, key):
    data = (finished_run / "checkpoints" / "last.ckpt").read_bytes()
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(data[: len(data) // 2])
    for path, message in [(truncated, f"checkpoint {truncated} cannot be read ("),
                          (finished_run, f"checkpoint {finished_run} is a directory; give a checkpoint file, e.g. "
                                         f"{finished_run / 'checkpoints' / 'last.ckpt'}")]:
        arguments = [*(SMALL if program == "sdegan-train" else ["metrics=quick"]), f"{key}={path}"]
        result = run([str(BIN / program), *arguments, f"hydra.run.dir={tmp_path / 'out'}"], cwd=tmp_path)
        assert final_line(result).startswith(f"{program}: {message}")


# ------------------------------------------------------------------ 6. values
# Each bad value is checked on check_run_values in tests/training/test_fault_handling.py; here one of them
# through the entry point: one line, also in the failed run's train.log.
def test_a_bad_value_gets_one_line_naming_the_key_also_in_train_log(tmp_path):
    run_dir = tmp_path / "run"
    line = final_line(train(run_dir, "dataset.num_paths=3"))
    assert line.startswith("sdegan-train: dataset.num_paths=3 splits into 1 train, 1 val, 1 test paths"), line
    assert line in (run_dir / "train.log").read_text()


@pytest.mark.slow  # also checked in-process: tests/training/test_fault_handling.py
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_gpu_trainer_without_cuda_says_how_to_install_a_cuda_build(tmp_path):
    line = final_line(train(tmp_path / "run", "trainer=gpu"))
    assert "sees no CUDA GPU; install a CUDA build of torch" in line and "SDEGAN_TORCH_INDEX_URL" in line


# ------------------------------------------------------------------ 7. evidence
def _step_checkpoints(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "checkpoints").glob("step*.ckpt"))


def test_ctrl_c_prints_the_last_checkpoint_and_the_command_that_resumes_it(tmp_path):
    run_dir = tmp_path / "run"
    command = [str(BIN / "sdegan-train"), *SMALL, "trainer.max_steps=100000", "trainer.checkpoint_every_n_steps=2",
               f"hydra.run.dir={run_dir}"]
    process = subprocess.Popen(command, cwd=tmp_path, env=environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    # save_top_k=1 keeps only the newest stepN.ckpt, so wait for any of them (an unloaded machine passes step 4
    # between two polls), and stop waiting if the run ends on its own.
    deadline = time.monotonic() + 600  # generous: a loaded machine starts the run slowly
    while not _step_checkpoints(run_dir) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if not _step_checkpoints(run_dir):
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"the run wrote no step checkpoint within the deadline (exit {process.returncode}): {stderr[-2000:]}")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode != 0 and "Traceback" not in stderr, stderr[-3000:]
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("sdegan-train interrupted at step ")
    resume = line.split("resume with: ")[1]
    checkpoint = Path(resume.split("ckpt_path=")[1])
    assert checkpoint.parent == (run_dir / "checkpoints").resolve() and checkpoint.is_file()
    assert f"the last good checkpoint is {checkpoint} (step {_step(checkpoint)})" in line
    assert resume.startswith("sdegan-train logger=none ") and "trainer.max_steps=100000" in resume
    assert line in (run_dir / "train.log").read_text()


@pytest.mark.parametrize("program", ["sdegan-train", "sdegan-evaluate"])
def test_ctrl_c_while_the_program_starts_ends_in_one_line(tmp_path, program):
    # One second in, the program is still importing torch and Lightning (several seconds); wherever the
    # interrupt lands, it ends in one line without a traceback.
    process = subprocess.Popen([str(BIN / program), f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path,
                               env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode != 0 and "Traceback" not in stderr, stderr[-3000:]
    assert stderr.strip().splitlines()[-1].startswith(f"{program} interrupted")


def test_a_run_logs_to_train_log_and_writes_strict_json_with_a_small_split_warning(tmp_path, finished_run):
    log = (finished_run / "train.log").read_text()
    assert "run directory: " in log and "summary: " in log
    result = train(tmp_path / "run", "trainer.max_steps=1", "test_after_fit=true")
    assert result.returncode == 0, result.stderr[-3000:]
    # metrics=quick has one repeat: every std is undefined, written as null (json.loads rejects bare NaN below).
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(),
                         parse_constant=lambda name: pytest.fail(f"{name} in summary.json"))
    assert summary["test/classification_std"] is None
    assert ("the test split has 4 paths, fewer than metrics.num_samples=128: the test metrics compare only 4 real "
            "paths; classification accuracy is judged on 1 held-out path(s) per class") in result.stdout


@pytest.mark.slow
def test_evaluate_writes_strict_json(tmp_path, finished_run):
    out = tmp_path / "evaluation"
    result = run([str(BIN / "sdegan-evaluate"), f"checkpoint={finished_run / 'checkpoints' / 'last.ckpt'}",
                  "metrics=quick", f"hydra.run.dir={out}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text(),
                         parse_constant=lambda name: pytest.fail(f"{name} in metrics.json"))
    assert metrics["test/mmd_std"] is None

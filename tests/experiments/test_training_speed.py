"""The training-speed program (quick mode), its committed table, and the same-seed loss comparison."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.experiments.results_files import check_results, load_experiment_module
from tests.experiments.test_solver_benchmarks import run_program

RESULTS = Path(__file__).resolve().parents[2] / "results"


def test_training_speed_quick_writes_ratios_against_the_targets(tmp_path):
    args = ["--quick", "--output-dir", str(tmp_path), "--runs-dir", str(tmp_path / "runs")]
    run_program("training_speed", args)
    table = check_results(tmp_path, "training_speed", ["--quick"])
    steps = table[table.measurement == "training step"]
    assert set(steps.variant) == {"torchsde example", "sdegan", "sdegan, brownian=grid"}
    assert set(table[table.measurement == "brownian increment"].variant) == {"torch.randn", "grid", "interval"}
    assert (table.time_ms_median > 0).all()
    assert table.measurement.str.startswith("lightning step").any()
    markdown = (tmp_path / "training_speed.md").read_text()
    assert "sdegan / torchsde example" in markdown and "<= 0.25" in markdown


def test_training_speed_quick_refuses_to_write_into_results():
    with pytest.raises(SystemExit, match="do not overwrite"):
        run_program("training_speed", ["--quick", "--output-dir", str(RESULTS)])


def test_committed_training_speed_table_is_a_full_run_that_states_every_target():
    if not (RESULTS / "training_speed.md").exists():
        pytest.skip("results/training_speed.md has not been produced on this checkout")
    table = check_results(RESULTS, "training_speed", [])
    markdown = (RESULTS / "training_speed.md").read_text()
    command = re.search(r"^Command: `(.+)`$", markdown, flags=re.MULTILINE).group(1)
    assert "--quick" not in command.split()
    assert {1, 64, 1024} <= set(table.batch)
    for batch in (1, 1024):
        assert re.search(rf"sdegan step / torchsde example step, batch {batch} \(issue 13 target\) \| <= [0-9.]+x \| "
                         r"[0-9.]+x \((met|not met)\)", markdown)


def test_lightning_step_times_keep_full_batches_only():
    full_batch_steps = load_experiment_module("training_speed").full_batch_steps
    steps = np.arange(16)
    # 6,554 train paths in batches of 1024: 6 full batches and one of 410 per epoch
    assert full_batch_steps(steps, 6554, 1024).tolist() == [step % 7 != 6 for step in range(16)]
    assert full_batch_steps(steps, 4096, 1024).all()
    assert not full_batch_steps(np.arange(3), 100, 1024).any()  # every step is the remainder


def _record(losses):
    return {"settings": {"run": {"train_loss": losses, "val_loss": [1.0], "mmd_trained": 2.0,
                                 "mmd_untrained": 3.0}}}


def test_same_seed_comparison_passes_equal_runs_and_flags_differences():
    same_seed = load_experiment_module("same_seed_losses")
    reference = _record([1.0, 2.0, 3.0])
    lines = same_seed.compare(_record([1.0, 2.0, 3.0 * (1 + 1e-7)]), reference, rtol=1e-5, atol=1e-6)
    assert lines and not any(line.startswith("FAIL") for line in lines)
    flagged = same_seed.compare(_record([1.0, 2.0, 3.1]), reference, rtol=1e-5, atol=1e-6)
    assert any(line.startswith("FAIL run train_loss") for line in flagged)
    assert any(line.startswith("FAIL") for line in same_seed.compare(_record([1.0, 2.0]), reference, 1e-5, 1e-6))
    other_metric = {"settings": {"run": {**reference["settings"]["run"], "mmd_trained": 7.0}}}
    lines = same_seed.compare(other_metric, reference, rtol=1e-5, atol=1e-6)  # the MMDs are shown, not compared
    assert not any(line.startswith("FAIL") for line in lines)
    assert any(line.startswith("info run mmd") and "7" in line for line in lines)


def test_committed_same_seed_baseline_holds_every_step_of_both_runs():
    baseline = json.loads((RESULTS / "same_seed_losses_baseline.json").read_text())
    assert set(baseline["settings"]) == {"ou_sde_gan", "default"}
    for record in baseline["settings"].values():
        assert record["train_loss_steps"] == list(range(baseline["steps"]))
        assert len(record["train_loss"]) == baseline["steps"]

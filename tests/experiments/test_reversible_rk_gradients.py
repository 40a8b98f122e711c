"""experiments/reversible_rk_gradients.py: recursive checkpointing at the reversible solve's saved bytes, exact
gradients, and a quick run whose .md states what its .csv holds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tests.experiments.results_files import check_results, load_experiment_module
from tests.experiments.test_solver_benchmarks import run_program

program = load_experiment_module("reversible_rk_gradients")
measure = load_experiment_module("measure")


@pytest.mark.parametrize("task", program.TASKS)
def test_chosen_checkpoint_count_saves_the_reversible_solves_bytes(task):
    problem = program.Problem(task, 12, 3, 0, torch.float32)
    reversible = problem.saved_bytes(*program.MATCHED)
    count, saved = program.choose_checkpoints(problem, reversible)
    state_bytes = problem.y0.numel() * problem.y0.element_size()
    # Checkpoints come in whole states: the closest count is within half a state of the target (here exactly).
    assert abs(saved - reversible) <= state_bytes / 2, (count, saved, reversible)
    assert problem.checkpoints == count
    assert problem.saved_bytes(*program.CHECKPOINTED) == saved
    # The old default (sqrt(steps) equal segments) saves more than the reversible solve.
    assert problem.saved_bytes("midpoint", "segment_checkpoint") > 1.5 * reversible


def test_checkpoint_count_cannot_exceed_what_the_steps_need():
    problem = program.Problem("ode", 1, 3, 0, torch.float32)
    count, saved = program.choose_checkpoints(problem, 10 * problem.saved_bytes(*program.MATCHED))
    assert count == 1 and saved == problem.y0.numel() * problem.y0.element_size()


@pytest.mark.parametrize("task", program.TASKS)
@pytest.mark.parametrize("num_steps, checkpoints", [(1, 1), (5, 1), (7, 2), (9, 3), (6, 10)])
def test_recursive_checkpointing_gradients_equal_direct_backprop(task, num_steps, checkpoints):
    problem = program.Problem(task, num_steps, 3, 1, torch.float64)
    problem.checkpoints = checkpoints
    reference = problem.gradients("midpoint", "direct")
    assert measure.relative_error(problem.gradients(*program.CHECKPOINTED), reference) < 1e-12


@pytest.mark.parametrize("num_steps, checkpoints", [(1, 1), (6, 1), (10, 2), (17, 3), (8, 12)])
def test_recursive_checkpointing_steps_as_its_schedule_says(num_steps, checkpoints):
    """A toy step ``y -> tanh(w y)``: gradient exact, and the steps taken are the forward sweep, the schedule's
    recomputations (less the first descent, whose states the forward sweep stored) and one step per vjp."""
    weight = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    calls = []

    def step(n, y):
        calls.append(n)
        return torch.tanh(weight * y)

    y0 = torch.tensor([0.3, -1.2], dtype=torch.float64, requires_grad=True)
    out = program.RecursiveCheckpoint.apply(step, num_steps, checkpoints, y0, weight)
    out.sum().backward()
    free = min(checkpoints - 1, num_steps - 1)
    cost, _ = program.checkpoint_schedule(num_steps, free)
    stored = program.forward_checkpoint_steps(num_steps, checkpoints)
    assert len(stored) <= free
    assert len(calls) == num_steps + int(cost[free, num_steps]) - (stored[-1] if stored else 0) + num_steps

    y, w = y0.detach().requires_grad_(True), weight.detach().requires_grad_(True)
    expected = y
    for _ in range(num_steps):
        expected = torch.tanh(w * expected)
    expected.sum().backward()
    assert torch.allclose(y0.grad, y.grad, rtol=1e-13, atol=0) and torch.allclose(weight.grad, w.grad, rtol=1e-13)


def test_schedule_costs():
    cost, split = program.checkpoint_schedule(30, 29)
    lengths = np.arange(31)
    assert (cost[0] == lengths * (lengths - 1) // 2).all()  # no free slot: every state from the start
    assert all(cost[29, length] == length - 1 for length in range(1, 31))  # a slot per state: each step once
    assert all(cost[s, 30] >= cost[s + 1, 30] for s in range(29))  # more memory never costs more steps
    assert all(1 <= split[s, length] < length for s in range(1, 30) for length in range(2, 31))


def test_quick_run_writes_equal_bytes_rows_and_text_from_the_numbers(tmp_path):
    args = ["--quick", "--output-dir", str(tmp_path)]
    run_program("reversible_rk_gradients", args)
    table = check_results(tmp_path, "reversible_rk_gradients", args)
    assert set(table.task) == {"ode", "cde", "sde"}
    assert {"saved_bytes", "saved_bytes_ratio_to_reversible", "checkpoints", "peak_bytes_median"} <= set(table.columns)
    checkpointed = table[table.gradient == "recursive_checkpoint"]
    assert (checkpointed.saved_bytes_ratio_to_reversible == 1.0).all(), checkpointed
    exact = table[table.gradient.isin(["reversible", "recursive_checkpoint", "segment_checkpoint"])]
    assert (exact.grad_error_float64_max < 1e-10).all(), exact[["task", "method", "gradient"]]
    # Saved bytes: flat in the number of steps for the reversible solves, growing for direct backprop.
    reversible = table[table.gradient == "reversible"].groupby(["task", "method"]).saved_bytes
    assert (reversible.max() == reversible.min()).all(), "reversible memory grew with the steps"
    direct = table[(table.method == "midpoint") & (table.gradient == "direct")].groupby("task").saved_bytes
    assert (direct.max() > 1.5 * direct.min()).all(), "direct backprop memory did not grow with the steps"
    # Recursive checkpointing recomputes: more vector-field evaluations than direct backprop at every size.
    keyed = table.set_index(["task", "steps", "method", "gradient"]).nfe
    for task, steps in table[["task", "steps"]].drop_duplicates().itertuples(index=False):
        assert keyed[(task, steps, "midpoint", "recursive_checkpoint")] > keyed[(task, steps, "midpoint", "direct")]

    markdown = (tmp_path / "reversible_rk_gradients.md").read_text()
    assert "The chosen checkpoint counts save exactly the reversible solve's bytes in every row." in markdown
    largest = program.time_ratios(table)
    largest = largest[largest.steps == table.steps.max()].time_recursive_checkpoint_over_reversible
    assert f"{largest.min():.2g}" in markdown.split("## The paper's figures next to ours")[1].split("\n")[4]
    for task in ("ode", "cde", "sde"):
        row = table[(table.task == task) & (table.steps == table.steps.max())
                    & (table.gradient == "recursive_checkpoint")].iloc[0]
        reversible_row = table[(table.task == task) & (table.steps == table.steps.max())
                               & (table.method == "reversible_midpoint")].iloc[0]
        ratio = row.time_s_median / reversible_row.time_s_median
        expected = f"{table.steps.max()} steps: 2 checkpoints, saved bytes 1x the reversible's, time {ratio:.2g}x"
        assert expected in markdown


def test_findings_say_when_equal_bytes_are_impossible():
    ratios = pd.DataFrame([dict(task="ode", steps=1, checkpoints=1, saved_bytes_ratio_to_reversible=0.5,
                                time_recursive_checkpoint_over_reversible=1.0)])
    table = pd.DataFrame(dict(gradient=["reversible", "adjoint"], grad_error_float64_max=[1e-16, 1e-3],
                              grad_error_float64_median=[1e-16, 1e-3], peak_bytes_median=[float("nan")] * 2))
    lines = program.findings(table, ratios)
    assert any("exact equality is impossible" in line and "1 checkpoints save 0.5x" in line for line in lines)
    assert not any("save exactly the reversible solve's bytes" in line for line in lines)

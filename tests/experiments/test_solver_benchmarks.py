"""The pure-solver comparison programs run in quick mode and write agreeing, self-describing results."""

from __future__ import annotations

import runpy
import sys

import pytest

from tests.experiments.results_files import EXPERIMENTS, check_results, load_experiment_module


def run_program(name: str, args: list[str]) -> None:
    """Run ``python experiments/<name>.py ARGS`` in this process (saves the interpreter start-up)."""
    load_experiment_module("results_table")  # puts experiments/ on sys.path for the program's imports
    saved = sys.argv
    sys.argv = [str(EXPERIMENTS / f"{name}.py"), *args]
    try:
        runpy.run_path(str(EXPERIMENTS / f"{name}.py"), run_name="__main__")
    finally:
        sys.argv = saved


def test_brownian_interval_vs_tree_quick(tmp_path):
    args = ["--quick", "--output-dir", str(tmp_path)]
    run_program("brownian_interval_vs_tree", args)
    table = check_results(tmp_path, "brownian_interval_vs_tree", args)
    assert set(table.brownian) == {"interval", "tree"}
    assert set(table.pattern) >= {"sequential", "reverse", "random"}
    assert (table.time_s_median > 0).all()


def test_reversible_rk_gradients_quick(tmp_path):
    args = ["--quick", "--output-dir", str(tmp_path)]
    run_program("reversible_rk_gradients", args)
    table = check_results(tmp_path, "reversible_rk_gradients", args)
    assert set(table.task) == {"ode", "cde", "sde"}
    exact = table[table.gradient.isin(["reversible", "checkpoint"])]
    # In float64 the reversible and checkpointed gradients equal direct backprop through the same method.
    assert (exact.grad_error_float64_mean < 1e-10).all(), exact[["task", "method", "gradient"]]
    # Memory saved for backward: flat in the number of steps for the reversible ODE/SDE solves (a CDE's also
    # holds the path increments), growing for direct backprop.
    reversible = table[(table.gradient == "reversible") & (table.task != "cde")]
    by_method = reversible.groupby(["task", "method"]).saved_mb_mean
    assert (by_method.max() <= by_method.min() * 1.05).all(), "reversible memory grew with the steps"
    direct = table[(table.method == "midpoint") & (table.gradient == "direct")].groupby("task").saved_mb_mean
    assert (direct.max() > 1.5 * direct.min()).all(), "direct backprop memory did not grow with the steps"
    most = table[table.steps == table.steps.max()].set_index(["task", "method", "gradient"]).saved_mb_mean
    for task in ("ode", "cde", "sde"):
        assert most[(task, "reversible_midpoint", "reversible")] < 0.5 * most[(task, "midpoint", "direct")]


def test_seminorm_vs_norm_quick(tmp_path):
    args = ["--quick", "--output-dir", str(tmp_path)]
    run_program("seminorm_vs_norm", args)
    table = check_results(tmp_path, "seminorm_vs_norm", args)
    assert set(table.norm) == {"default", "seminorm", "torchdiffeq_seminorm"}
    assert set(table.task) == {"cde", "ode", "pendulum"}
    assert (table.backward_nfe_mean > 0).all() and (table.forward_nfe_mean > 0).all()


def test_programs_reject_unknown_tasks(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_program("reversible_rk_gradients", ["--quick", "--tasks", "pde", "--output-dir", str(tmp_path)])
    assert "invalid choice" in capsys.readouterr().err

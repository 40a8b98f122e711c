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

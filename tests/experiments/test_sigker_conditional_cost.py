"""experiments/sigker_conditional_cost.py (quick mode) writes its results as every benchmark does."""

from __future__ import annotations

import re
from pathlib import Path

from tests.experiments.results_files import check_results
from tests.experiments.test_signature_kernel_programs import run_program

RESULTS = Path(__file__).resolve().parents[2] / "results"


def test_sigker_conditional_cost_quick(tmp_path):
    args = ["--quick", "--output-dir", str(tmp_path)]
    run_program("sigker_conditional_cost", args)
    table = check_results(tmp_path, "sigker_conditional_cost", args)
    assert list(table.model) == ["sde_sigker"] + ["sde_sigker_conditional"] * 3
    assert (table.step_s > 0).all()
    assert list(table.pairs) == [4 * 3 // 2 + 4 * 4, 4 * 4 * 5 // 2, 4 * 8 * 9 // 2, 4 * 4 * 5 // 2]
    assert list(table.scored_length) == [8, 4, 4, 7]


def test_committed_results_agree_and_are_a_full_run():
    table = check_results(RESULTS, "sigker_conditional_cost", [])
    command = re.search(r"^Command: `(.+)`$", (RESULTS / "sigker_conditional_cost.md").read_text(), flags=re.MULTILINE)
    assert "--quick" not in command.group(1).split()
    assert (table.length == 64).all() and (table.n == 32).all()

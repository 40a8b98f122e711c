"""The results tables in results/ that the comparison programs wrote: .md and .csv agree, the .md names the
command (not a --quick run), the machine and the budget."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.experiments.results_files import check_results

RESULTS = Path(__file__).resolve().parents[2] / "results"
COMPARISONS = ("reversible_heun_vs_midpoint", "brownian_interval_vs_tree", "clipping_vs_gradient_penalty",
               "reversible_rk_gradients", "seminorm_vs_norm")


@pytest.mark.parametrize("name", COMPARISONS)
def test_results_files_agree_and_name_their_command(name):
    if not (RESULTS / f"{name}.md").exists():
        pytest.skip(f"results/{name}.md has not been produced on this checkout")
    check_results(RESULTS, name, [])
    command = re.search(r"^Command: `(.+)`$", (RESULTS / f"{name}.md").read_text(), flags=re.MULTILINE).group(1)
    assert "--quick" not in command.split(), "results/ must hold real runs, not quick-mode smoke runs"

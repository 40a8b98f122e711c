"""Checks shared by the experiment tests: a program's .csv and .md exist, agree, and name their command."""

from __future__ import annotations

import importlib
import math
import re
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def load_experiment_module(name: str) -> ModuleType:
    """Import ``experiments/<name>.py`` (the programs import their siblings by plain name)."""
    if str(EXPERIMENTS) not in sys.path:
        sys.path.insert(0, str(EXPERIMENTS))
    return importlib.import_module(name)


def _number(text: str) -> float:
    return math.nan if text == "-" else float(text)


def _close(expected: float, shown: str) -> bool:
    value = _number(shown)
    if math.isnan(expected) or math.isnan(value):
        return math.isnan(expected) and math.isnan(value)
    return math.isclose(value, expected, rel_tol=1e-3, abs_tol=1e-12)


def check_results(output_dir: Path, name: str, program_args: list[str]) -> pd.DataFrame:
    """Assert that ``<name>.csv``, ``.md`` and ``.png`` exist, that every csv cell is what the .md's results table
    shows (to the .md's 4 significant digits), and that the .md states the command with ``program_args``."""
    csv_path, md_path = output_dir / f"{name}.csv", output_dir / f"{name}.md"
    assert csv_path.is_file() and md_path.is_file(), sorted(p.name for p in output_dir.iterdir())
    assert (output_dir / f"{name}.png").stat().st_size > 1000
    table = pd.read_csv(csv_path)
    assert len(table) > 0
    markdown = md_path.read_text()

    command = re.search(r"^Command: `(.+)`$", markdown, flags=re.MULTILINE)
    assert command, "the .md does not state its command"
    assert command.group(1).startswith(f"python experiments/{name}.py"), command.group(1)
    assert all(arg in command.group(1).split() for arg in program_args), command.group(1)
    assert "Machine: CPU:" in markdown and "torch" in markdown
    assert re.search(r"^Budget: .+", markdown, flags=re.MULTILINE)
    assert "The paper's figures next to ours" in markdown

    load_experiment_module("results_table")
    from results_table import read_markdown_table

    shown = read_markdown_table(markdown, table.columns[0])
    assert len(shown) == len(table)
    for column in table.columns:
        if column.endswith("_std") and f"{column[:-4]}_mean" in table.columns:
            continue
        if column.endswith("_mean") and f"{column[:-5]}_std" in table.columns:
            base = column[:-5]
            for mean, std, cell in zip(table[column], table[f"{base}_std"], shown[f"{base} (mean ± std)"]):
                parts = cell.split(" ± ")
                assert _close(mean, parts[0]), (column, mean, cell)
                if len(parts) == 2:
                    assert _close(std, parts[1]), (column, std, cell)
                else:
                    assert math.isnan(std), (column, std, cell)
        elif pd.api.types.is_numeric_dtype(table[column]):
            for value, cell in zip(table[column], shown[column]):
                assert _close(float(value), cell), (column, value, cell)
        else:
            assert list(table[column].astype(str)) == list(shown[column]), column
    return table

"""``sdegan-collect``: a sweep's runs in one table, grouped by their overrides, mean +- std over seeds.

    sdegan-train -m solver=midpoint,reversible_heun seed=0,1 test_after_fit=true
    sdegan-collect multirun/default/<date_time>            # -> collected.csv, collected.md, runs.csv there

Every run directory below the given folder (one that holds ``.hydra/overrides.yaml``) becomes one row: its
command-line overrides as columns, plus every number of its ``summary.json`` (end-of-run summary and, with
``test_after_fit=true``, the test metrics) and of a ``metrics.json`` written by ``sdegan-evaluate``. Runs are
grouped by their overrides except ``seed`` (``--by`` chooses the grouping keys), and each numeric column is
summarised as mean and sample standard deviation with the number of runs ``n``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any, Optional, Sequence

import pandas as pd
import yaml

from sdegan.errors import ConfigurationError, DataError, MissingFileError, exit_on_input_error
from sdegan.results_table import markdown_table, summarise

__all__ = ["find_runs", "read_run", "collect_runs", "collect", "main"]

# Overrides that name a repeat of a setting, not the setting: never grouped by (unless asked with --by).
REPEAT_KEYS = ("seed",)
RESULT_FILES = ("summary.json", "metrics.json")


def find_runs(sweep_dir: Path) -> list[Path]:
    """Every run directory under ``sweep_dir`` (a folder holding ``.hydra/overrides.yaml``), sorted by path."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise MissingFileError(f"{str(sweep_dir)!r} is not a directory (give a multirun/... folder)")
    return sorted(path.parent.parent for path in sweep_dir.rglob(".hydra/overrides.yaml"))


def read_run(run_dir: Path) -> Optional[dict[str, Any]]:
    """One run's overrides (as ``key: value``) and numeric results, or None if it wrote no result file yet."""
    overrides = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text()) or []
    row: dict[str, Any] = {"run_dir": str(run_dir)}
    for override in overrides:
        key, _, value = str(override).lstrip("+~").partition("=")
        if not key.startswith("hydra."):
            row[key] = value
    results: dict[str, Any] = {}
    for name in RESULT_FILES:
        path = run_dir / name
        if path.is_file():
            try:
                results.update(json.loads(path.read_text()))
            except json.JSONDecodeError as error:
                raise DataError(f"{path} is not valid JSON ({error})") from None
    if not results:
        return None
    for key, value in results.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) or value is None:
            row[key] = math.nan if value is None else float(value)
    return row


def collect_runs(sweep_dir: Path) -> tuple[pd.DataFrame, list[Path]]:
    """All finished runs under ``sweep_dir`` as one row each, and the run directories without results."""
    rows, unfinished = [], []
    for run_dir in find_runs(sweep_dir):
        row = read_run(run_dir)
        if row is None:
            unfinished.append(run_dir)
        else:
            rows.append(row)
    if not rows:
        raise DataError(
            f"no finished run under {str(sweep_dir)!r} (no run directory with summary.json or "
            f"metrics.json; {len(unfinished)} run(s) without results)"
        )
    return pd.DataFrame(rows), unfinished


def collect(sweep_dir: Path, by: Optional[Sequence[str]] = None) -> tuple[pd.DataFrame, pd.DataFrame, list[Path]]:
    """The raw table (one row per run), the summary grouped by ``by`` and the unfinished run directories.

    ``by`` defaults to every override key except ``seed``; runs that lack a key of ``by`` get ``-`` there.
    """
    raw, unfinished = collect_runs(sweep_dir)
    numeric = [c for c in raw.columns if c != "run_dir" and pd.api.types.is_numeric_dtype(raw[c])]
    overrides = [c for c in raw.columns if c != "run_dir" and c not in numeric]
    if by is None:
        by = [c for c in overrides if c not in REPEAT_KEYS]
    unknown = [key for key in by if key not in raw.columns]
    if unknown:
        raise ConfigurationError(
            f"--by {unknown} is not an override of these runs; their overrides: {overrides}"
        )
    values = [c for c in numeric if c not in by]
    grouping = raw.assign(**{key: raw[key].fillna("-") for key in by}) if by else raw.assign(all_runs="all")
    summary = summarise(grouping, by=list(by) or ["all_runs"], values=values)
    return raw, summary, unfinished


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Console-script entry point."""
    parser = argparse.ArgumentParser(prog="sdegan-collect", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder (or any folder of run directories)")
    parser.add_argument("--by", nargs="+", default=None, help="override keys to group by (default: all but seed)")
    parser.add_argument("--output", type=Path, default=None, help="folder for the tables (default: sweep_dir)")
    args = parser.parse_args(argv)
    with exit_on_input_error("sdegan-collect"):
        raw, summary, unfinished = collect(args.sweep_dir, args.by)
        output = args.output or args.sweep_dir
        output.mkdir(parents=True, exist_ok=True)
        raw.to_csv(output / "runs.csv", index=False)
        summary.to_csv(output / "collected.csv", index=False)
        table = markdown_table(summary)
        (output / "collected.md").write_text(
            f"# Sweep {args.sweep_dir}\n\n{len(raw)} finished run(s), mean ± std per group.\n\n{table}\n"
        )
    print(table)
    print(f"\n{len(raw)} run(s) -> {output / 'collected.csv'}, {output / 'collected.md'}, {output / 'runs.csv'}")
    if unfinished:
        print(f"{len(unfinished)} run(s) without results skipped, e.g. {unfinished[0]}")


if __name__ == "__main__":
    main()

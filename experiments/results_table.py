"""Write an experiment's results as ``<name>.csv`` + ``<name>.md`` (+ ``<name>.png``): one table, two formats.

Every experiment program collects one row per (setting, seed or repeat) in a pandas DataFrame, then calls

    table = summarise(raw, by=["method"], values=["time_s", "nfe"])
    write_results("my_comparison", table, output_dir, title=..., budget=..., paper=[PaperFigure(...)])

The .csv holds the summary table (``<value>_mean``, ``<value>_std`` and ``n`` per group); the .md shows the
same numbers as ``mean ± std`` together with the exact command that produced them, the machine, the budget
the program ran under and the paper's figures next to ours. :func:`read_markdown_table` parses the .md table
back, so tests can check that both files agree.
"""

from __future__ import annotations

import math
import os
import platform
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import pandas as pd
import torch

DEFAULT_OUTPUT_DIR = Path(__file__).resolve().parent.parent / "results"
SIGNIFICANT_DIGITS = 4


@dataclass(frozen=True)
class PaperFigure:
    """One headline claim of a paper next to what this program measured.

    Attributes:
        claim: what is compared, e.g. "training speed-up of reversible Heun over midpoint".
        paper: the paper's figure as text, e.g. "up to 1.98x".
        ours: our figure as text, computed by the program from the table.
    """

    claim: str
    paper: str
    ours: str


def machine_description() -> str:
    """CPU model, core count, operating system, Python and torch versions (and the GPU, if one is used)."""
    cpu = _cpu_model()
    threads = torch.get_num_threads()
    parts = [
        f"CPU: {cpu}, {os.cpu_count()} logical cores, torch threads: {threads}",
        f"OS: {platform.system()} {platform.release()}",
        f"Python {platform.python_version()}, torch {torch.__version__}",
    ]
    if torch.cuda.is_available():
        parts.append(f"GPU: {torch.cuda.get_device_name(0)}")
    else:
        parts.append("GPU: none")
    return "; ".join(parts)


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def command_line() -> str:
    """The command that started this process, as a user would type it (relative to the repository root)."""
    program = Path(sys.argv[0])
    try:
        program = program.resolve().relative_to(Path(__file__).resolve().parent.parent)
    except ValueError:
        pass
    return shlex.join(["python", str(program), *sys.argv[1:]])


STATISTICS = ("mean", "std", "median", "min", "max")


def summarise(
    raw: pd.DataFrame,
    by: Sequence[str],
    values: Sequence[str],
    statistics: Sequence[str] = ("mean", "std"),
) -> pd.DataFrame:
    """Statistics of ``values`` per group of ``by`` (groups in first-seen order), plus the count ``n``.

    Arguments:
        raw: one row per observation (a seed or a repeat of a setting).
        by: the columns that name a setting.
        values: the measured columns.
        statistics: any of :data:`STATISTICS`; ``std`` is the sample standard deviation (NaN for one
            observation, written as empty in the .csv and as ``-`` in the .md).

    Returns:
        One row per group with columns ``*by``, ``<value>_<statistic>`` for each value and statistic, and ``n``.
    """
    missing = [column for column in [*by, *values] if column not in raw.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the raw results; available: {list(raw.columns)}")
    unknown = [statistic for statistic in statistics if statistic not in STATISTICS]
    if unknown:
        raise ValueError(f"unknown statistics {unknown}; valid: {list(STATISTICS)}")
    if raw.empty:
        raise ValueError("no raw results to summarise")
    grouped = raw.groupby(list(by), sort=False, dropna=False)
    table = grouped[list(values)].agg(list(statistics))
    table.columns = [f"{value}_{stat}" for value, stat in table.columns]
    table["n"] = grouped.size()
    return table.reset_index()


def format_number(value: object) -> str:
    """A number with :data:`SIGNIFICANT_DIGITS` significant digits, ``-`` for NaN; other values as text."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "-"
    return f"{value:.{SIGNIFICANT_DIGITS}g}"


def markdown_table(table: pd.DataFrame) -> str:
    """Render a summary table: ``x_mean``/``x_std`` column pairs become one ``x (mean ± std)`` column."""
    headers: list[str] = []
    cells: list[Callable[[pd.Series], str]] = []
    for column in table.columns:
        if column.endswith("_std") and f"{column[:-4]}_mean" in table.columns:
            continue
        if column.endswith("_mean") and f"{column[:-5]}_std" in table.columns:
            name = column[:-5]
            headers.append(f"{name} (mean ± std)")
            cells.append(lambda row, name=name: _mean_std(row[f"{name}_mean"], row[f"{name}_std"]))
        else:
            headers.append(column)
            cells.append(lambda row, column=column: format_number(_python_scalar(row[column])))
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(cell(row) for cell in cells) + " |")
    return "\n".join(lines)


def _python_scalar(value: object) -> object:
    return value.item() if hasattr(value, "item") else value


def _mean_std(mean: object, std: object) -> str:
    mean, std = _python_scalar(mean), _python_scalar(std)
    if isinstance(std, float) and math.isnan(std):
        return format_number(mean)
    return f"{format_number(mean)} ± {format_number(std)}"


def read_markdown_table(markdown: str, header_starts_with: str) -> pd.DataFrame:
    """Parse the first markdown table whose first header cell starts with ``header_starts_with`` (as text)."""
    lines = markdown.splitlines()
    for start, line in enumerate(lines):
        cells = _cells(line)
        if cells and cells[0].startswith(header_starts_with) and start + 1 < len(lines) and lines[start + 1].startswith("|-"):
            rows = []
            for body in lines[start + 2 :]:
                if not body.startswith("|"):
                    break
                rows.append(_cells(body))
            return pd.DataFrame(rows, columns=cells)
    raise ValueError(f"no markdown table with a header starting {header_starts_with!r}")


def _cells(line: str) -> list[str]:
    line = line.strip()
    if not (line.startswith("|") and line.endswith("|")):
        return []
    return [cell.strip() for cell in line[1:-1].split("|")]


def write_results(
    name: str,
    table: pd.DataFrame,
    output_dir: Path,
    *,
    title: str,
    description: str,
    budget: str,
    paper: Sequence[PaperFigure] = (),
    notes: Sequence[str] = (),
    extra_tables: Sequence[tuple[str, pd.DataFrame]] = (),
    plot: Optional[Callable[[Path], None]] = None,
    command: Optional[str] = None,
) -> dict[str, Path]:
    """Write ``<name>.csv`` (the summary table) and ``<name>.md`` (and ``<name>.png`` when ``plot`` is given).

    Arguments:
        name: file stem, e.g. ``"brownian_interval_vs_tree"``.
        table: the summary table (usually from :func:`summarise`); written to the .csv as is.
        output_dir: folder for the files (created if missing).
        title, description: the .md's heading and what was measured, how.
        budget: the sizes the program ran at (e.g. "quick mode: 2 seeds x 3 steps"), stated in the .md.
        paper: the paper's headline figures next to ours.
        notes: extra lines for the .md (caveats, skipped settings).
        extra_tables: further (heading, table) pairs shown in the .md only (e.g. ratios derived from ``table``).
        plot: called with the .png path to draw the figure.
        command: the command to state; default the command line of this process.

    Returns:
        The written paths by kind (``"csv"``, ``"md"`` and possibly ``"png"``).
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": output_dir / f"{name}.csv", "md": output_dir / f"{name}.md"}
    table.to_csv(paths["csv"], index=False)
    if plot is not None:
        paths["png"] = output_dir / f"{name}.png"
        plot(paths["png"])

    lines = [
        f"# {title}",
        "",
        description,
        "",
        f"Command: `{command or command_line()}`",
        "",
        f"Machine: {machine_description()}",
        "",
        f"Budget: {budget}",
        "",
        f"## Results (`{paths['csv'].name}`)",
        "",
        markdown_table(table),
        "",
    ]
    for heading, extra in extra_tables:
        lines += [f"## {heading}", "", markdown_table(extra), ""]
    if paper:
        lines += ["## The paper's figures next to ours", "", "| claim | paper | ours |", "|---|---|---|"]
        lines += [f"| {figure.claim} | {figure.paper} | {figure.ours} |" for figure in paper]
        lines.append("")
    if notes:
        lines += ["## Notes", "", *[f"- {note}" for note in notes], ""]
    if "png" in paths:
        lines += [f"![{name}]({paths['png'].name})", ""]
    paths["md"].write_text("\n".join(lines))
    return paths


__all__ = [
    "DEFAULT_OUTPUT_DIR",
    "PaperFigure",
    "machine_description",
    "command_line",
    "STATISTICS",
    "summarise",
    "format_number",
    "markdown_table",
    "read_markdown_table",
    "write_results",
]

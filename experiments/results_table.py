"""Write an experiment's results as ``<name>.csv`` + ``<name>.md`` (+ ``<name>.png``): one table, two formats.

Every experiment program collects one row per (setting, seed or repeat) in a pandas DataFrame, summarises it
with :mod:`sdegan.results_table` (re-exported here), then calls

    table = summarise(raw, by=["method"], values=["time_s", "nfe"])
    write_results("my_comparison", table, output_dir, title=..., budget=..., paper=[PaperFigure(...)])

The .csv holds the summary table (``<value>_mean``, ``<value>_std`` and ``n`` per group); the .md shows the
same numbers as ``mean ± std`` together with the exact command that produced them, the machine, the budget
the program ran under and the paper's figures next to ours. :func:`read_markdown_table` parses the .md table
back, so tests can check that both files agree.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import pandas as pd
import torch

from sdegan.results_table import (
    STATISTICS,
    format_number,
    markdown_table,
    read_markdown_table,
    summarise,
)

DEFAULT_OUTPUT_DIR = Path(__file__).resolve().parent.parent / "results"


def load_average() -> Optional[float]:
    """The machine's 1-minute load average now (``None`` where the OS does not report one)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


# Measured when the program first imports this module (experiment_arguments does, before any measurement).
LOAD_AT_START = load_average()


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


def load_description(start: Optional[float], end: Optional[float], cores: Optional[int]) -> str:
    """The measured 1-minute load averages at the program's start and end, next to the core count."""
    if start is None or end is None:
        return "load average: not reported by this OS"
    return (f"1-minute load average {start:.2f} when the program started and {end:.2f} when it wrote its results, "
            f"on {cores} logical cores")


def machine_description() -> str:
    """CPU model, core count, operating system, Python and torch versions (and the GPU, if one is used), and the
    machine's load average at the program's start and now."""
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
    parts.append(load_description(LOAD_AT_START, load_average(), os.cpu_count()))
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
    "LOAD_AT_START",
    "load_average",
    "load_description",
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

"""Summary tables of repeated runs: statistics per group, rendered as CSV and markdown.

Used by ``sdegan-collect`` (a sweep's runs in one table) and by the comparison programs in ``experiments/``:

    table = summarise(raw, by=["solver"], values=["test/mmd", "train_time_s"])
    markdown_table(table)          # ``x (mean ± std)`` columns
    read_markdown_table(text, "solver")   # parsed back, so tests can check that .csv and .md agree
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import pandas as pd

from sdegan.errors import ConfigurationError

SIGNIFICANT_DIGITS = 4


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
        raise ConfigurationError(f"columns {missing} are not in the raw results; available: {list(raw.columns)}")
    unknown = [statistic for statistic in statistics if statistic not in STATISTICS]
    if unknown:
        raise ConfigurationError(f"unknown statistics {unknown}; valid: {list(STATISTICS)}")
    if raw.empty:
        raise ConfigurationError("no raw results to summarise")
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
    raise ConfigurationError(f"no markdown table with a header starting {header_starts_with!r}")


def _cells(line: str) -> list[str]:
    line = line.strip()
    if not (line.startswith("|") and line.endswith("|")):
        return []
    return [cell.strip() for cell in line[1:-1].split("|")]


__all__ = ["STATISTICS", "SIGNIFICANT_DIGITS", "summarise", "format_number", "markdown_table", "read_markdown_table"]

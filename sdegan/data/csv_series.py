"""The user's own time series from a CSV file, long or wide format, irregular times and gaps allowed.

Long format: one row per observation with a series-id column, a time column and one or more value columns
(each value column is a channel). Wide format: a time column and one column per series (one channel each).
Empty cells (or NA/NaN) are missing values. Times are numbers, or datetimes (converted to hours); both are
divided by ``time_scale`` (by default the mean spacing of consecutive observations in the paths, so that
regular data gets times 0, 1, 2, ...). Within a series times must be strictly increasing in file order.

Each series becomes one path (all series must then have the same number of observations), or with
``window_length`` is cut into windows of that many consecutive observations (stride ``window_stride``,
default ``window_length``). A path's time channel is the time since its first observation.

``path="example"`` reads a small generated example (noisy sines at irregular times, long format) instead.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Unpack

import numpy as np
import pandas as pd

from sdegan.data.datamodule import DataModuleOptions, PathDataModule
from sdegan.data.example_csv import EXAMPLE_PATH_KEYWORD, write_example_csv
from sdegan.data.normaliser import VALUE_RANGE_RULE, Normaliser, first_out_of_range
from sdegan.data.raw import RawPaths, random_subset
from sdegan.errors import DataError, MissingFileError

logger = logging.getLogger(__name__)

FORMATS = ("long", "wide")
SPLIT_BY = ("window", "series")
TIME_WORDS = ("time", "date", "hour", "day")  # a column name holding one of these likely holds times


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise MissingFileError(f"csv dataset: no file at {str(path)!r} (set dataset.path to your CSV file)")
    try:
        frame = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"malformed CSV {str(path)!r}: {error}") from error
    if len(frame) == 0:
        raise DataError(f"malformed CSV {str(path)!r}: it has a header but no data rows")
    return frame


def _require_columns(frame: pd.DataFrame, wanted: dict[str, Sequence[str]], label: str) -> None:
    """Every column of ``wanted`` (config key -> column names) exists, else an error naming the setting to change."""
    present = [str(column) for column in frame.columns]
    for key, columns in wanted.items():
        missing = [column for column in columns if column not in frame.columns]
        if not missing:
            continue
        guess = _guess_column(frame, key)
        if key == "value_columns":
            setting = "dataset.value_columns=[<some of them>] (or null for every other column)"
        else:
            setting = f"dataset.{key}={guess}" if guess else f"dataset.{key}=<one of them>"
        hint = " (or dataset.format=wide for a time column plus one column per series)" if key == "id_column" else ""
        raise DataError(
            f"malformed CSV {label}: no column {missing[0]!r} (dataset.{key}); its columns are {present}: "
            f"set {setting}{hint}"
        )


def _guess_column(frame: pd.DataFrame, key: str) -> str | None:
    """A likely column for ``id_column`` (text, not time-like) or ``time_column`` (time-like name), else None."""
    names = [str(column) for column in frame.columns]
    time_like = [name for name in names if any(word in name.lower() for word in TIME_WORDS) or name.lower() == "t"]
    if key == "time_column":
        return time_like[0] if time_like else None
    if key == "id_column":
        text = [name for name in names if name not in time_like and not pd.api.types.is_numeric_dtype(frame[name])]
        return text[0] if text else None
    return None


def _numeric(frame: pd.DataFrame, column: str, label: str, series: pd.Series | None) -> np.ndarray:
    converted = pd.to_numeric(frame[column], errors="coerce")
    bad = converted.isna() & frame[column].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"malformed CSV {label}: column {column!r} has non-numeric value {frame[column].iloc[row]!r} in data "
            f"row {row + 1}{_in_series(series, row)} (leave missing values empty or write NA; if {column!r} is not a "
            "channel, list the channels with dataset.value_columns=[...])"
        )
    values = converted.to_numpy(dtype=np.float64)
    row = first_out_of_range(values)
    if row is not None:
        raise DataError(
            f"CSV {label}: column {column!r} has value {values[row]:g} in data row {row + 1}{_in_series(series, row)}; "
            f"{VALUE_RANGE_RULE}; correct the cell or leave it empty (a missing value)"
        )
    return values


def _in_series(series: pd.Series | None, row: int) -> str:
    return "" if series is None else f" (series {str(series.iloc[row])!r})"


def _times(frame: pd.DataFrame, column: str, label: str) -> np.ndarray:
    if frame[column].isna().any():
        row = int(np.flatnonzero(frame[column].isna().to_numpy())[0])
        raise DataError(f"malformed CSV {label}: time column {column!r} is empty in data row {row + 1}")
    if pd.api.types.is_numeric_dtype(frame[column]):
        times = frame[column].to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(times)):
            row = int(np.flatnonzero(~np.isfinite(times))[0])
            raise DataError(f"CSV {label}: time column {column!r} has value {times[row]:g} in data row {row + 1}; "
                            "times must be finite numbers")
    else:
        stamps = pd.to_datetime(frame[column], format="ISO8601", errors="coerce")
        if stamps.isna().any():
            row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
            raise DataError(
                f"malformed CSV {label}: time column {column!r} holds neither numbers nor ISO 8601 datetimes: data row "
                f"{row + 1} has {frame[column].iloc[row]!r}; write times as numbers or as e.g. 2013-03-01T13:00, or "
                "set dataset.time_column to the column that holds them"
            )
        times = (stamps - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy() / 3600.0
    return times


def _check_increasing(times: np.ndarray, series: str, label: str) -> None:
    steps = np.diff(times)
    if np.any(steps <= 0):
        position = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise DataError(
            f"{label}: times of series {series!r} must be strictly increasing in file order, but observation "
            f"{position + 1} (time {times[position]:g}) does not come after time {times[position - 1]:g}"
        )


class CSVDataModule(PathDataModule):
    """Paths from the user's CSV file (see the module docstring and docs/data.md).

    ``times`` (the generation grid) is the common train grid; when times are irregular it is ``0, 1, ...,
    length - 1`` with the automatic time unit, else a uniform grid over the mean train span (see
    :meth:`PathDataModule.generation_times`); ``dt`` is its smallest spacing. After loading, ``time_unit`` is
    the file's time per unit of the paths' time channel (``time_scale`` or the automatic one), kept in the
    normaliser so that ``sdegan-sample`` writes times in the file's unit.

    Arguments:
        path: the CSV file, or ``"example"`` for the generated example.
        format: ``"long"`` or ``"wide"``.
        id_column: series-id column (long format).
        time_column: time column (numbers or ISO 8601 datetimes, the latter in hours).
        value_columns: channels (long) or series (wide); default every other column.
        window_length: observations per path; ``None`` makes each whole series one path.
        window_stride: observations between window starts (default ``window_length``: no overlap).
        time_scale: times are divided by it; ``None`` (default) divides by the mean spacing of consecutive
            observations over all paths, so regular data gets times ``0, 1, 2, ...`` and irregular data
            the generation grid ``0, 1, ..., length - 1`` (whole numbers, which fixed-step solvers need).
        split_by: ``"window"`` (windows split independently) or ``"series"`` (a series' windows share a split).
        num_paths: if set, a seeded random subset of this many paths is used.
        batch_size, seed, val_fraction, test_fraction, num_workers: :class:`DataModuleOptions`.
    """

    def __init__(
        self,
        *,
        path: str,
        format: str = "long",
        id_column: str = "series_id",
        time_column: str = "time",
        value_columns: Sequence[str] | None = None,
        window_length: int | None = None,
        window_stride: int | None = None,
        time_scale: float | None = None,
        split_by: str = "window",
        num_paths: int | None = None,
        **options: Unpack[DataModuleOptions],
    ) -> None:
        super().__init__(**options)
        if format not in FORMATS:
            raise DataError(f"format must be one of {list(FORMATS)}, got {format!r}")
        if split_by not in SPLIT_BY:
            raise DataError(f"split_by must be one of {list(SPLIT_BY)}, got {split_by!r}")
        if window_length is not None and (not isinstance(window_length, int) or window_length < 2):
            raise DataError(f"window_length must be None or an integer >= 2, got {window_length!r}")
        if window_stride is not None and (
            window_length is None or not isinstance(window_stride, int) or window_stride < 1
        ):
            raise DataError(f"window_stride must be a positive integer and needs window_length, got {window_stride!r}")
        if time_scale is not None and not time_scale > 0:
            raise DataError(f"time_scale must be positive or None (automatic), got {time_scale}")
        self.path = Path(path)
        self.format = format
        self.id_column = id_column
        self.time_column = time_column
        self.value_columns = None if value_columns is None else list(value_columns)
        self.window_length = window_length
        self.window_stride = window_stride or window_length
        self.time_scale = time_scale
        self.split_by = split_by
        self.num_paths = num_paths

    @property
    def description(self) -> str:
        return f"csv dataset ({self.path})"

    def read_series(self) -> tuple[list[str], list[np.ndarray], list[np.ndarray], list[str]]:
        """Series ids, per-series times ``(n,)`` and values ``(n, channels)``, and the channel names."""
        path = self.path
        if str(path) == EXAMPLE_PATH_KEYWORD:
            logger.warning("dataset.path=example: using a generated example CSV (noisy sines), not your data")
            with tempfile.TemporaryDirectory(prefix="sdegan_csv_example_") as directory:
                frame = _read_table(write_example_csv(Path(directory) / "example.csv"))
        else:
            frame = _read_table(path)
        label = repr(str(path))
        key_columns = [self.id_column, self.time_column] if self.format == "long" else [self.time_column]
        wanted = {"time_column": [self.time_column], "value_columns": self.value_columns or []}
        _require_columns(frame, {"id_column": [self.id_column], **wanted} if self.format == "long" else wanted, label)
        value_columns = self.value_columns or [column for column in frame.columns if column not in key_columns]
        if not value_columns:
            raise DataError(f"malformed CSV {label}: no value columns besides {key_columns}")
        times = _times(frame, self.time_column, label)
        series = frame[self.id_column] if self.format == "long" else None
        values = np.stack([_numeric(frame, column, label, series) for column in value_columns], axis=-1)
        if self.format == "wide":
            _check_increasing(times, "(all columns)", label)
            return list(value_columns), [times] * len(value_columns), list(values.T[..., None]), ["value"]
        if frame[self.id_column].isna().any():
            row = int(np.flatnonzero(frame[self.id_column].isna().to_numpy())[0])
            raise DataError(
                f"malformed CSV {label}: series id column {self.id_column!r} is empty in data row {row + 1}"
            )
        ids, series_times, series_values = [], [], []
        for series_id, rows in frame.groupby(self.id_column, sort=False).indices.items():
            _check_increasing(times[rows], str(series_id), label)
            ids.append(str(series_id))
            series_times.append(times[rows])
            series_values.append(values[rows])
        return ids, series_times, series_values, list(value_columns)

    @staticmethod
    def mean_spacing(times: np.ndarray) -> float:
        """The automatic time unit: the mean spacing of consecutive observations over all paths."""
        return float(np.mean(times[:, -1] - times[:, 0]) / (times.shape[1] - 1))

    def generation_times(self, train_times: np.ndarray) -> np.ndarray:
        """With the automatic time unit and irregular times, ``0, 1, ..., length - 1`` (the mean spacing is 1)."""
        if self.time_scale is None and not np.all(train_times == train_times[:1]):
            return np.arange(train_times.shape[1], dtype=np.float64)
        return super().generation_times(train_times)

    def fit_normaliser(self, train: RawPaths) -> Normaliser:
        """Per-channel train statistics (the default), recording the time unit so outputs can restore it."""
        return Normaliser.fit(train.values, train.channel_names, time_unit=self.time_unit)

    def load_raw(self) -> RawPaths:
        ids, series_times, series_values, channel_names = self.read_series()
        lengths = [len(times) for times in series_times]
        if self.window_length is None:
            if len(set(lengths)) > 1:
                raise DataError(
                    f"{self.description}: series have different numbers of observations ({min(lengths)} to "
                    f"{max(lengths)}); set dataset.window_length to cut them into equal windows"
                )
            if lengths[0] < 2:
                raise DataError(f"{self.description}: every series has a single observation; paths need at least 2")
            windows = [(index, 0, lengths[0]) for index in range(len(ids))]
        else:
            too_short = [(series, length) for series, length in zip(ids, lengths) if length < self.window_length]
            if too_short:
                raise DataError(
                    f"{self.description}: {len(too_short)} series are shorter than window_length="
                    f"{self.window_length}, e.g. series {too_short[0][0]!r} with {too_short[0][1]} observations"
                )
            windows = [
                (index, start, start + self.window_length)
                for index, length in enumerate(lengths)
                for start in range(0, length - self.window_length + 1, self.window_stride)
            ]
        times = np.stack([series_times[i][a:b] - series_times[i][a] for i, a, b in windows])
        self.time_unit = self.time_scale or self.mean_spacing(times)
        times = times / self.time_unit
        values = np.stack([series_values[i][a:b] for i, a, b in windows])
        groups = np.array([i for i, _, _ in windows]) if self.split_by == "series" else None
        raw = RawPaths(times, values, channel_names, groups)
        return random_subset(raw, self.num_paths, self.seed, self.description)

"""Beijing multi-site air quality (UCI id 501): hourly station records cut into fixed-length windows.

Reads ``PRSA2017_Data_20130301-20170228.zip`` (or the UCI download that wraps it, or a directory holding the
extracted ``PRSA_Data_<Station>_20130301-20170228.csv`` files). Each station's rows are placed on a complete
hourly grid (hours without a row become NaN), cut into consecutive non-overlapping windows of
``window_length`` hours starting at the first recorded hour (00:00, so the default 24 gives calendar days),
and every station-window is one path. Windows in which some channel misses more than
``max_missing_fraction`` of its hours are dropped (the count is kept in ``num_dropped_windows``). Windows
covering the same hours at different stations always share a split (stations see the same weather).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Unpack

import numpy as np
import pandas as pd

from sdegan.data.datamodule import DataModuleOptions, PathDataModule
from sdegan.data.normaliser import VALUE_RANGE_RULE, first_out_of_range
from sdegan.data.raw import RawPaths, random_subset
from sdegan.errors import DataError, MissingFileError

ARCHIVE_NAME = "PRSA2017_Data_20130301-20170228.zip"
DOWNLOAD_PAGE = "https://archive.ics.uci.edu/dataset/501/beijing+multi+site+air+quality+data"
STATION_FILE_PATTERN = re.compile(r"PRSA_Data_(?P<station>[A-Za-z]+)_20130301-20170228\.csv$")
TIME_COLUMNS = ["year", "month", "day", "hour"]
NUMERIC_COLUMNS = ["PM2.5", "PM10", "SO2", "NO2", "CO", "O3", "TEMP", "PRES", "DEWP", "RAIN", "WSPM"]
POLLUTANTS = ["PM2.5", "PM10", "SO2", "NO2", "CO", "O3"]


def _missing_file_message(path: Path) -> str:
    return (
        f"air_quality data not found at {str(path)!r}. Expected {ARCHIVE_NAME} (or a directory with its extracted "
        f"PRSA_Data_<Station>_20130301-20170228.csv files). Download it from the UCI Machine Learning Repository, "
        f"{DOWNLOAD_PAGE}, or run `bash scripts/download_air_quality.sh` (writes data/raw/{ARCHIVE_NAME}), "
        "then set dataset.path to it."
    )


def _station_files_in_zip(archive: zipfile.ZipFile, label: str) -> dict[str, bytes]:
    files = {}
    for name in archive.namelist():
        match = STATION_FILE_PATTERN.search(name)
        if match:
            files[match["station"]] = archive.read(name)
    if files:
        return files
    nested = [name for name in archive.namelist() if name.endswith(ARCHIVE_NAME)]
    if nested:  # the UCI download wraps the PRSA2017 archive in another zip
        with zipfile.ZipFile(io.BytesIO(archive.read(nested[0]))) as inner:
            return _station_files_in_zip(inner, f"{label}/{nested[0]}")
    raise DataError(
        f"{label} holds no PRSA_Data_<Station>_20130301-20170228.csv files; is it {ARCHIVE_NAME}? "
        f"Download page: {DOWNLOAD_PAGE}"
    )


def read_station_files(path: str | Path) -> dict[str, tuple[str, bytes]]:
    """Map station name -> (file label, CSV bytes), sorted by station, from the zip archive or directory at ``path``."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(_missing_file_message(path))
    if path.is_dir():
        found = {}
        for file in sorted(path.rglob("*.csv")):
            match = STATION_FILE_PATTERN.search(file.name)
            if match:
                found[match["station"]] = (str(file), file.read_bytes())
        if not found:
            nested = sorted(path.rglob(ARCHIVE_NAME))
            if nested:
                return read_station_files(nested[0])
            raise MissingFileError(_missing_file_message(path / ARCHIVE_NAME))
        return found
    if not zipfile.is_zipfile(path):
        raise DataError(f"{str(path)!r} is neither a zip archive nor a directory; expected {ARCHIVE_NAME}")
    with zipfile.ZipFile(path) as archive:
        return {
            station: (f"{path}:{station}", content)
            for station, content in sorted(_station_files_in_zip(archive, str(path)).items())
        }


def parse_station_csv(content: bytes, label: str, channels: Sequence[str]) -> pd.DataFrame:
    """One station's hourly ``channels`` on a complete hourly index (missing hours NaN), in original units."""
    try:
        frame = pd.read_csv(io.BytesIO(content), na_values=["NA", ""], keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"malformed CSV {label}: {error}") from error
    missing = [column for column in TIME_COLUMNS + list(channels) if column not in frame.columns]
    if missing:
        fix = (
            f"choose dataset.channels from the numeric columns {[c for c in NUMERIC_COLUMNS if c in frame.columns]}"
            if all(column in frame.columns for column in TIME_COLUMNS)
            else "expected the UCI PRSA format: No,year,month,day,hour,PM2.5,...,station"
        )
        raise DataError(f"malformed CSV {label}: missing column(s) {missing}; found {list(frame.columns)}; {fix}")
    if len(frame) == 0:
        raise DataError(f"malformed CSV {label}: no data rows")
    for column in TIME_COLUMNS + list(channels):
        numeric = pd.to_numeric(frame[column], errors="coerce")
        bad = numeric.isna() & frame[column].notna()
        if column in TIME_COLUMNS:
            bad = bad | frame[column].isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"malformed CSV {label}: column {column!r} has non-numeric value {frame[column].iloc[row]!r} "
                f"in data row {row + 1} (missing values must be written NA)"
            )
        row = first_out_of_range(numeric.to_numpy(dtype=np.float64))
        if row is not None:
            raise DataError(
                f"CSV {label}: column {column!r} has value {numeric.iloc[row]:g} in data row {row + 1}; "
                f"{VALUE_RANGE_RULE}; correct it or write NA (a missing value)"
            )
        frame[column] = numeric
    try:
        stamps = pd.to_datetime(frame[TIME_COLUMNS].astype(int))
    except (ValueError, OverflowError) as error:
        raise DataError(f"malformed CSV {label}: invalid year/month/day/hour ({error})") from error
    steps = np.diff(stamps.to_numpy()).astype("timedelta64[s]").astype(np.int64)
    if np.any(steps <= 0):
        row = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise DataError(
            f"{label}: times must be strictly increasing, but data row {row + 1} ({stamps.iloc[row]}) does not come "
            f"after row {row} ({stamps.iloc[row - 1]})"
        )
    hourly = pd.date_range(stamps.iloc[0], stamps.iloc[-1], freq="h")
    return frame[list(channels)].set_axis(pd.DatetimeIndex(stamps)).reindex(hourly)


class AirQualityDataModule(PathDataModule):
    """Windows of the Beijing multi-site air-quality records (see the module docstring and docs/data.md).

    Time channel: hours since the window's start (``0 .. window_length - 1``); ``dt`` 1.0;
    channels normalised per channel with train-split statistics.

    Arguments:
        path: the zip archive or a directory with the station CSVs.
        channels: columns used as channels (default the six pollutants); valid: the numeric columns.
        stations: stations to use (default: every station file found).
        window_length: hours per window (path length).
        max_missing_fraction: windows where some channel misses more than this fraction are dropped.
        num_paths: if set, a seeded random subset of this many windows is used (e.g. for quick runs).
        batch_size, seed, val_fraction, test_fraction, num_workers: :class:`DataModuleOptions`.
    """

    def __init__(
        self,
        *,
        path: str,
        channels: Sequence[str] = tuple(POLLUTANTS),
        stations: Sequence[str] | None = None,
        window_length: int = 24,
        max_missing_fraction: float = 0.5,
        num_paths: int | None = None,
        **options: Unpack[DataModuleOptions],
    ) -> None:
        super().__init__(**options)
        channels = list(channels)
        invalid = [channel for channel in channels if channel not in NUMERIC_COLUMNS]
        if not channels or invalid or len(set(channels)) != len(channels):
            raise DataError(
                f"channels must be distinct, non-empty names from {NUMERIC_COLUMNS}; got {channels}"
                + (f" (invalid: {invalid})" if invalid else "")
            )
        if not isinstance(window_length, int) or window_length < 2:
            raise DataError(f"window_length must be an integer >= 2 (hours), got {window_length!r}")
        if not 0.0 <= max_missing_fraction < 1.0:
            raise DataError(f"max_missing_fraction must lie in [0, 1), got {max_missing_fraction}")
        self.path = Path(path)
        self.channels = channels
        self.stations = None if stations is None else list(stations)
        self.window_length = window_length
        self.max_missing_fraction = max_missing_fraction
        self.num_paths = num_paths

    @property
    def description(self) -> str:
        return f"air_quality dataset ({self.path})"

    def load_raw(self) -> RawPaths:
        files = read_station_files(self.path)
        if self.stations is not None:
            unknown = [station for station in self.stations if station not in files]
            if unknown or not self.stations:
                raise DataError(f"stations must be a non-empty subset of {sorted(files)}; got {self.stations}")
            files = {station: files[station] for station in self.stations}
        series = {
            station: parse_station_csv(content, label, self.channels) for station, (label, content) in files.items()
        }
        start = min(frame.index[0] for frame in series.values())

        all_values, all_groups = [], []
        self.num_dropped_windows = 0
        for station, frame in series.items():
            if len(frame) < self.window_length:
                raise DataError(
                    f"station {station} ({files[station][0]}) covers {len(frame)} hours, too short for "
                    f"window_length={self.window_length}"
                )
            offset = int((frame.index[0] - start) / pd.Timedelta(hours=1))
            first_window = -(-offset // self.window_length)  # windows are aligned to the earliest station's start
            skip = first_window * self.window_length - offset
            usable = (len(frame) - skip) // self.window_length
            values = frame.to_numpy(dtype=np.float64)[skip : skip + usable * self.window_length]
            windows = values.reshape(usable, self.window_length, len(self.channels))
            keep = np.all(np.mean(np.isnan(windows), axis=1) <= self.max_missing_fraction, axis=1)
            self.num_dropped_windows += int(np.sum(~keep))
            all_values.append(windows[keep])
            all_groups.append(first_window + np.flatnonzero(keep))
        values = np.concatenate(all_values)
        if len(values) == 0:
            raise DataError(
                f"{self.description}: every window misses more than max_missing_fraction="
                f"{self.max_missing_fraction} of some channel; no paths left"
            )
        times = np.broadcast_to(np.arange(self.window_length, dtype=np.float64), values.shape[:2]).copy()
        raw = RawPaths(times, values, list(self.channels), np.concatenate(all_groups))
        return random_subset(raw, self.num_paths, self.seed, self.description)

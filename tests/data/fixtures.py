"""Test helpers that write small data files in the real formats the loaders read (no downloads)."""

from __future__ import annotations

import os
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

AIR_QUALITY_HEADER = (
    '"No","year","month","day","hour","PM2.5","PM10","SO2","NO2","CO","O3","TEMP","PRES","DEWP","RAIN","wd",'
    '"WSPM","station"'
)
WIND_DIRECTIONS = ["N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"]
STATION_FILE = "PRSA_Data_{station}_20130301-20170228.csv"
ARCHIVE_FOLDER = "PRSA_Data_20130301-20170228"
REAL_ARCHIVE = "PRSA2017_Data_20130301-20170228.zip"
SHARED_DATA_VARIABLE = "SDEGAN_SHARED_DATA"
REPOSITORY = Path(__file__).resolve().parents[2]


def shared_data_folders() -> list[Path]:
    """Where the project's shared data may be: ``$SDEGAN_SHARED_DATA``, then ``<checkout>/../shared/data`` for this
    checkout and, when it is a git worktree, for the main checkout it belongs to (its ``../shared`` differs)."""
    folders = [Path(os.environ[SHARED_DATA_VARIABLE])] if os.environ.get(SHARED_DATA_VARIABLE) else []
    checkouts = [REPOSITORY]
    try:
        common = subprocess.run(
            ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
            cwd=REPOSITORY, capture_output=True, text=True, timeout=30, check=True,
        ).stdout.strip()
        checkouts.append(Path(common).parent)
    except (OSError, subprocess.SubprocessError):
        pass  # not a git checkout (an unpacked release): only its own ../shared
    return folders + [checkout.parent / "shared" / "data" for checkout in checkouts]


def real_air_quality_archive() -> Path:
    """The real Beijing archive (docs/data.md) from the shared data folder; skips the calling test when absent,
    as on a user's fresh clone (it is never committed)."""
    for folder in shared_data_folders():
        if (folder / REAL_ARCHIVE).is_file():
            return folder / REAL_ARCHIVE
    pytest.skip(f"the real {REAL_ARCHIVE} is not in {[str(folder) for folder in shared_data_folders()]}")


def air_quality_rows(station: str, days: int, missing_fraction: float, seed: int) -> list[str]:
    """Data rows in the UCI PRSA format: hourly from 2013-03-01 00:00, NA for missing, quoted wd/station."""
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    stamps = np.datetime64("2013-03-01T00") + hours.astype("timedelta64[h]")
    daily = np.sin(2 * np.pi * hours / 24)
    columns = {
        "PM2.5": np.round(np.exp(4 + 0.5 * daily + 0.5 * rng.standard_normal(len(hours)))),
        "PM10": np.round(np.exp(4.5 + 0.4 * daily + 0.5 * rng.standard_normal(len(hours)))),
        "SO2": np.round(np.exp(2 + 0.5 * rng.standard_normal(len(hours)))),
        "NO2": np.round(50 + 20 * daily + 10 * rng.standard_normal(len(hours))),
        "CO": np.round(np.exp(7 + 0.5 * rng.standard_normal(len(hours))) / 100) * 100,
        "O3": np.round(np.abs(60 - 30 * daily + 15 * rng.standard_normal(len(hours)))),
        "TEMP": np.round(5 + 8 * daily + rng.standard_normal(len(hours)), 1),
        "PRES": np.round(1020 + 5 * rng.standard_normal(len(hours)), 1),
        "DEWP": np.round(-10 + 5 * rng.standard_normal(len(hours)), 1),
        "RAIN": np.where(rng.random(len(hours)) < 0.05, 0.3, 0.0),
    }
    wind_speed = np.round(np.abs(2 + rng.standard_normal(len(hours))), 1)
    rows = []
    for index, hour in enumerate(hours):
        stamp = stamps[index].astype(object)
        cells = []
        for values in columns.values():
            cells.append("NA" if rng.random() < missing_fraction else f"{values[index]:g}")
        direction = "NA" if rng.random() < missing_fraction else f'"{WIND_DIRECTIONS[rng.integers(16)]}"'
        rows.append(
            f"{index + 1},{stamp.year},{stamp.month},{stamp.day},{stamp.hour},{','.join(cells)},{direction},"
            f'{wind_speed[index]:g},"{station}"'
        )
    return rows


def write_air_quality_fixture(
    directory: Path,
    *,
    stations: Sequence[str] = ("Aotizhongxin", "Changping", "Dingling"),
    days: int = 20,
    missing_fraction: float = 0.03,
    as_zip: bool = True,
    seed: int = 0,
) -> Path:
    """Write station CSVs in the real format; returns the zip (PRSA2017 layout) or the directory of CSVs."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    texts = {
        STATION_FILE.format(station=station): "\n".join(
            [AIR_QUALITY_HEADER, *air_quality_rows(station, days, missing_fraction, seed + number)]
        )
        + "\n"
        for number, station in enumerate(stations)
    }
    if as_zip:
        archive = directory / "PRSA2017_Data_20130301-20170228.zip"
        with zipfile.ZipFile(archive, "w") as stream:
            for name, text in texts.items():
                stream.writestr(f"{ARCHIVE_FOLDER}/{name}", text)
        return archive
    for name, text in texts.items():
        (directory / name).write_text(text)
    return directory


def identical(first: torch.Tensor, second: torch.Tensor) -> bool:
    """Whether two tensors are bitwise equal, NaNs in the same places counting as equal."""
    return first.shape == second.shape and torch.equal(first.isnan(), second.isnan()) and torch.equal(
        first.nan_to_num(), second.nan_to_num()
    )

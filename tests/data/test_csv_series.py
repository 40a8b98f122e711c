"""The user's own CSV data: long and wide formats, irregular times, windowing and every bad-input message."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from sdegan.data import CSVDataModule
from tests.data.fixtures import identical


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def long_csv(tmp_path: Path, num_series: int = 10, length: int = 8, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = ["patient,t,heart_rate,temperature"]
    for series in range(num_series):
        times = np.cumsum(rng.uniform(0.5, 2.0, size=length)) + 100.0 * series
        for step, time in enumerate(times):
            heart = "" if (series + step) % 5 == 0 else f"{60 + 10 * rng.standard_normal():.3f}"
            lines.append(f"p{series},{time:.4f},{heart},{37 + 0.5 * rng.standard_normal():.3f}")
    return write(tmp_path / "long.csv", "\n".join(lines) + "\n")


def make_module(path: Path, **overrides) -> CSVDataModule:
    defaults = {"id_column": "patient", "time_column": "t", "batch_size": 4, "seed": 0}
    return CSVDataModule(path=str(path), **{**defaults, **overrides})


def test_long_format_with_irregular_times_and_gaps(tmp_path):
    module = make_module(long_csv(tmp_path))
    module.setup()
    assert module.channel_names == ["heart_rate", "temperature"] and module.num_channels == 2
    paths = torch.cat([module.train_paths, module.val_paths, module.test_paths])
    assert paths.shape == (10, 8, 3)
    assert (paths[:, 0, 0] == 0).all() and (paths[..., 0].diff(dim=1) > 0).all()  # time since first observation
    assert not torch.equal(paths[0, :, 0], paths[1, :, 0])  # irregular: every series has its own times
    assert torch.isnan(paths[..., 1]).sum() == 16 and not torch.isnan(paths[..., 2]).any()
    assert len(module.times) == 8 and module.dt == pytest.approx(float(module.times.diff().min()))


def test_long_format_values_round_trip(tmp_path):
    path = write(tmp_path / "one.csv", "series_id,time,value\na,0,1.0\na,0.5,2.0\na,2,\nb,1,4.0\nb,3,5.0\nb,4,6.0\n"
                 "c,0,7\nc,1,8\nc,2,9\n")
    raw = CSVDataModule(path=str(path), time_scale=1.0, batch_size=2, seed=0).load_raw()
    np.testing.assert_array_equal(raw.times, [[0, 0.5, 2], [0, 2, 3], [0, 1, 2]])
    np.testing.assert_array_equal(raw.values[..., 0], [[1, 2, np.nan], [4, 5, 6], [7, 8, 9]])
    # the automatic time unit is the mean spacing of consecutive observations: (2 + 3 + 2) / 3 / 2 = 7 / 6
    automatic = CSVDataModule(path=str(path), batch_size=2, seed=0).load_raw()
    np.testing.assert_allclose(automatic.times, raw.times * 6 / 7, rtol=1e-15)


def test_wide_format(tmp_path):
    lines = ["time,sensor_a,sensor_b,sensor_c,sensor_d"] + [
        f"{t * 0.25},{np.sin(t)},{'' if t == 3 else np.cos(t)},{t},{-t}" for t in range(12)
    ]
    module = CSVDataModule(path=str(write(tmp_path / "wide.csv", "\n".join(lines))), format="wide", window_length=4,
                           batch_size=4, seed=0)
    raw = module.load_raw()
    assert raw.values.shape == (4 * 3, 4, 1) and raw.channel_names == ["value"]
    np.testing.assert_allclose(raw.values[3 * 2 + 1, :, 0], [4, 5, 6, 7])  # sensor_c, second window
    np.testing.assert_allclose(raw.times[0], [0, 1, 2, 3])  # automatic time_scale: the median spacing, 0.25
    module.setup()
    assert module.times.tolist() == [0, 1, 2, 3] and module.dt == 1.0
    unscaled = CSVDataModule(path=module.path, format="wide", window_length=4, time_scale=1.0, batch_size=4, seed=0)
    np.testing.assert_allclose(unscaled.load_raw().times[0], [0, 0.25, 0.5, 0.75])


def test_decimal_times_become_an_exact_grid(tmp_path, recwarn):
    lines = ["time,a,b,c"] + [f"{100 + 0.1 * k:.1f},{k},{2 * k},{3 * k}" for k in range(40)]
    path = write(tmp_path / "decimal.csv", "\n".join(lines))
    module = CSVDataModule(path=str(path), format="wide", window_length=8, batch_size=4, seed=0)
    module.setup()
    assert module.times.tolist() == list(range(8)) and module.dt == 1.0
    assert not [w for w in recwarn if "does not divide" in str(w.message)]
    with pytest.warns(UserWarning, match="does not divide all its intervals exactly in float32"):
        CSVDataModule(path=str(path), format="wide", window_length=40, time_scale=1.0, batch_size=1, seed=0,
                      val_fraction=0.3, test_fraction=0.3).setup()


def test_windowing_and_split_by_series(tmp_path):
    path = long_csv(tmp_path, num_series=12, length=9)
    module = make_module(path, window_length=3, split_by="series")
    raw = module.load_raw()
    assert raw.values.shape == (12 * 3, 3, 2)
    assert raw.groups.tolist() == np.repeat(np.arange(12), 3).tolist()
    strided = make_module(path, window_length=3, window_stride=2).load_raw()
    assert strided.values.shape == (12 * 4, 3, 2) and strided.groups is None
    module.setup()
    assert len(module.train_paths) + len(module.val_paths) + len(module.test_paths) == 36


def test_datetimes_are_hours(tmp_path):
    lines = ["series_id,time,value"] + [
        f"{s},2024-01-0{d + 1}T{h:02d}:30:00,{10 * k + d + h}"
        for k, s in enumerate("xyz")
        for d in range(2)
        for h in (0, 6)
    ]
    raw = CSVDataModule(path=str(write(tmp_path / "dates.csv", "\n".join(lines))), time_scale=6.0,
                        batch_size=2, seed=0).load_raw()
    np.testing.assert_allclose(raw.times[0], [0, 1, 4, 5])  # hours / 6


def test_deterministic_and_train_only_normalisation(tmp_path):
    path = long_csv(tmp_path, num_series=30)
    first, second = make_module(path, seed=3), make_module(path, seed=3)
    first.setup()
    second.setup()
    assert identical(first.train_paths, second.train_paths) and identical(first.test_paths, second.test_paths)
    train = first.normaliser.inverse_transform(first.train_paths.double())[..., 1:].reshape(-1, 2).numpy()
    np.testing.assert_allclose(first.normaliser.mean, np.nanmean(train, axis=0), rtol=1e-6)


def test_example_dataset_runs_out_of_the_box():
    module = CSVDataModule(path="example", batch_size=32, seed=0)
    module.setup()
    assert module.num_channels == 1 and module.train_paths.shape[1:] == (48, 2)
    # irregular times with the automatic time unit: generators sample at 0, 1, ..., 47 with dt = 1
    assert module.times.tolist() == list(range(48)) and module.dt == 1.0
    assert not torch.equal(module.train_paths[0, :, 0], module.train_paths[1, :, 0])


# ---------------------------------------------------------------------------------------------- bad input
def test_wrong_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"csv dataset: no file at '.*nowhere.csv' \(set dataset.path"):
        make_module(tmp_path / "nowhere.csv").setup()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "malformed CSV .*No columns to parse"),
        ("patient,t,heart_rate\n", "malformed CSV .*header but no data rows"),
        ('patient,t,heart_rate\np1,0,"60\n', "malformed CSV"),
        ("patient,t,heart_rate\np1,0,60\np1,1,60,70,80\n", "malformed CSV"),
        (
            "patient,time,heart_rate\np1,0,60\n",
            r"no column 't' \(dataset.time_column\); its columns are \['patient', 'time', 'heart_rate'\]: "
            r"set dataset.time_column=time$",
        ),
        (
            "id,t,heart_rate\np1,0,60\n",
            r"no column 'patient' \(dataset.id_column\); its columns are \['id', 't', 'heart_rate'\]: set "
            r"dataset.id_column=id \(or dataset.format=wide",
        ),
        (
            "a,b,c\n1,0,60\n",
            r"no column 'patient' \(dataset.id_column\); its columns are \['a', 'b', 'c'\]: set "
            r"dataset.id_column=<one of them>",
        ),
        (
            "patient,t,heart_rate\np1,0,60\np1,1,fast\n",
            r"column 'heart_rate' has non-numeric value 'fast' in data row 2 \(series 'p1'\) .*"
            r"if 'heart_rate' is not a channel, list the channels with dataset.value_columns=\[...\]",
        ),
        ("patient,t,heart_rate\np1,0,60\np1,,61\n", "time column 't' is empty in data row 2"),
        (
            "patient,t,heart_rate\np1,0,60\np1,noon,61\n",
            "time column 't' holds neither numbers nor ISO 8601 .*write times as numbers or as e.g. "
            "2013-03-01T13:00, or set dataset.time_column",
        ),
        ("patient,t,heart_rate\np1,0,60\np1,inf,61\n", "time column 't' has value inf in data row 2; times must be finite"),
        ("patient,t,heart_rate\np1,0,60\n,1,61\n", "series id column 'patient' is empty in data row 2"),
        ("patient,t\np1,0\n", r"no value columns besides \['patient', 't'\]"),
    ],
)
def test_malformed_csv(tmp_path, text, message):
    """Each message names the file, the row and the setting or edit that fixes it."""
    with pytest.raises(ValueError, match=message):
        make_module(write(tmp_path / "bad.csv", text)).setup()


def test_missing_value_columns_name_the_setting(tmp_path):
    path = write(tmp_path / "v.csv", "patient,t,heart_rate\np1,0,60\n")
    with pytest.raises(ValueError, match=r"no column 'pulse' \(dataset.value_columns\).*set dataset.value_columns="):
        make_module(path, value_columns=["pulse"]).setup()


def test_wide_file_read_as_long_suggests_the_format(tmp_path):
    path = write(tmp_path / "w.csv", "time,sensor_a,sensor_b\n0,1,2\n1,3,4\n")
    with pytest.raises(ValueError, match=r"set dataset.id_column=<one of them> \(or dataset.format=wide"):
        CSVDataModule(path=str(path), batch_size=1, seed=0).setup()


@pytest.mark.parametrize("value", ["inf", "-inf", "1e300", "-4e38"])
def test_values_out_of_float32_range_are_refused_at_load_in_every_split(tmp_path, value):
    """Every series (so every split: train, val and test) is checked when the file is read."""
    for series in range(10):
        row = 8 * series + 3  # data row of the series' fourth observation
        path = with_temperature(long_csv(tmp_path), row, value, tmp_path / f"bad{series}.csv")
        message = (
            rf"CSV '.*bad{series}.csv': column 'temperature' has value {re.escape(f'{float(value):g}')} in data row "
            rf"{row} \(series 'p{series}'\); values must be finite numbers of magnitude at most 3.4e\+38 \(paths are "
            r"stored in float32\); correct the cell or leave it empty"
        )
        with pytest.raises(ValueError, match=message):
            make_module(path).setup()


def with_temperature(path: Path, row: int, value: str, output: Path) -> Path:
    """A copy of the :func:`long_csv` file at ``output`` whose data row ``row`` has temperature ``value``."""
    lines = path.read_text().splitlines()
    lines[row] = ",".join(lines[row].split(",")[:3] + [value])
    return write(output, "\n".join(lines) + "\n")


def series_in_split(module: CSVDataModule, split: str) -> int:
    """Index of a series whose path is in ``split`` (each series is one path here)."""
    raw = module.load_raw()
    split_times = getattr(module, f"{split}_paths")[..., 0].double()
    for index, times in enumerate(torch.as_tensor(raw.times)):
        if bool(((split_times - times).abs().amax(dim=1) < 1e-5).any()):
            return index
    raise AssertionError(f"no series found in the {split} split")


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ("train", r"channel 'temperature' cannot be normalised meaningfully: a few extreme train values \(largest "
                  r"magnitude 1e\+38\).*the other values would be a constant"),
        ("val", r"channel 'temperature' has value 1e\+38, .* train standard deviations from the train mean .*; at most "
                r"1e\+06 can be modelled"),
        ("test", r"channel 'temperature' has value 1e\+38, .* train standard deviations from the train mean"),
    ],
)
def test_an_extreme_value_is_refused_at_setup_with_the_reason(tmp_path, split, message):
    """1e38 fits float32, but in train it squashes the channel to a constant and held out it overflows."""
    path = long_csv(tmp_path, num_series=30)
    module = make_module(path, seed=0)
    module.setup()
    bad = with_temperature(path, 8 * series_in_split(module, split) + 2, "1e38", tmp_path / "extreme.csv")
    with pytest.raises(ValueError, match=message):
        make_module(bad, seed=0).setup()


def test_non_increasing_times(tmp_path):
    text = "patient,t,heart_rate\np1,0,60\np1,1,61\np1,1,62\np2,0,1\np2,1,2\np2,2,3\n"
    message = r"times of series 'p1' must be strictly increasing .* observation 3 \(time 1\)"
    with pytest.raises(ValueError, match=message):
        make_module(write(tmp_path / "bad.csv", text)).setup()
    wide = "time,a,b\n0,1,2\n2,1,2\n1,1,2\n"
    with pytest.raises(ValueError, match=r"times of series '\(all columns\)' must be strictly increasing"):
        CSVDataModule(path=str(write(tmp_path / "wide.csv", wide)), format="wide", batch_size=2, seed=0).setup()


def test_series_too_short_for_the_window(tmp_path):
    text = "patient,t,heart_rate\n" + "".join(f"p1,{i},60\n" for i in range(6)) + "p2,0,1\np2,1,2\n"
    message = r"1 series are shorter than window_length=4, e.g. series 'p2' with 2 observations"
    with pytest.raises(ValueError, match=message):
        make_module(write(tmp_path / "short.csv", text), window_length=4).setup()


def test_single_observation_series_are_too_short(tmp_path):
    text = "patient,t,heart_rate\np1,0,60\np2,0,61\np3,0,62\n"
    with pytest.raises(ValueError, match="every series has a single observation; paths need at least 2"):
        make_module(write(tmp_path / "single.csv", text)).setup()


def test_unequal_series_need_a_window(tmp_path):
    text = "patient,t,heart_rate\n" + "".join(f"p1,{i},60\n" for i in range(6)) + "p2,0,1\np2,1,2\n"
    with pytest.raises(ValueError, match="different numbers of observations \\(2 to 6\\); set dataset.window_length"):
        make_module(write(tmp_path / "ragged.csv", text)).setup()


def test_all_nan_paths(tmp_path):
    rows = [f"p{s},{i},{'' if s == 2 else 60 + i}\n" for s in range(5) for i in range(3)]  # series p2: all empty
    text = "patient,t,heart_rate\n" + "".join(rows)
    with pytest.raises(ValueError, match=r"1 of 5 paths have no observed values at all \(all NaN\), e.g. path \[2\]"):
        make_module(write(tmp_path / "empty.csv", text)).setup()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"format": "tall"}, r"format must be one of \['long', 'wide'\]"),
        ({"split_by": "station"}, r"split_by must be one of \['window', 'series'\]"),
        ({"window_length": 1}, "window_length must be None or an integer >= 2"),
        ({"window_stride": 2}, "window_stride must be a positive integer and needs window_length"),
        ({"time_scale": 0.0}, "time_scale must be positive or None"),
    ],
)
def test_bad_settings(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        make_module(tmp_path / "x.csv", **overrides)

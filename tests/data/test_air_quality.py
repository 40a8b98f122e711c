"""The Beijing air-quality loader on small fixtures in the real UCI format."""

from __future__ import annotations

import re
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from sdegan.data import AirQualityDataModule, split_indices
from sdegan.data.air_quality import NUMERIC_COLUMNS, POLLUTANTS
from tests.data.fixtures import STATION_FILE, identical, real_air_quality_archive, write_air_quality_fixture

STATIONS = ("Aotizhongxin", "Changping", "Dingling")


def make_module(path, **overrides) -> AirQualityDataModule:
    return AirQualityDataModule(path=str(path), **{"batch_size": 16, "seed": 0, **overrides})


def test_reads_the_zip_into_daily_windows(tmp_path):
    archive = write_air_quality_fixture(tmp_path, days=20)
    module = make_module(archive)
    module.setup()
    total = len(module.train_paths) + len(module.val_paths) + len(module.test_paths)
    assert total == 3 * 20 and module.num_dropped_windows == 0
    assert module.channel_names == POLLUTANTS and module.num_channels == 6
    assert module.times.tolist() == list(range(24)) and module.dt == 1.0
    assert module.train_paths.shape[1:] == (24, 7)
    assert torch.isnan(module.train_paths[..., 1:]).any()  # the NA markers arrive as NaN


def test_window_values_equal_the_csv_rows(tmp_path):
    directory = write_air_quality_fixture(tmp_path, days=5, as_zip=False)
    raw = make_module(directory, channels=["TEMP", "PM2.5"]).load_raw()
    table = pd.read_csv(directory / STATION_FILE.format(station="Changping"))  # pandas reads NA as NaN
    # paths are ordered station by station (sorted file names), day by day
    day_three = table.iloc[3 * 24 : 4 * 24][["TEMP", "PM2.5"]].to_numpy()
    np.testing.assert_array_equal(raw.values[5 + 3], day_three)
    np.testing.assert_array_equal(raw.times[0], np.arange(24.0))


def test_zip_directory_and_uci_wrapper_give_the_same_data(tmp_path):
    archive = write_air_quality_fixture(tmp_path / "zip", days=10)
    directory = write_air_quality_fixture(tmp_path / "dir", days=10, as_zip=False)
    wrapper = tmp_path / "beijing+multi+site+air+quality+data.zip"
    with zipfile.ZipFile(wrapper, "w") as stream:  # the UCI download holds the PRSA2017 zip inside
        stream.write(archive, archive.name)
    modules = [make_module(path) for path in (archive, directory, wrapper, tmp_path / "zip")]
    for module in modules:
        module.setup()
    for module in modules[1:]:
        assert identical(module.train_paths, modules[0].train_paths)
        assert identical(module.test_paths, modules[0].test_paths)


def test_same_hours_at_all_stations_share_a_split(tmp_path):
    module = make_module(write_air_quality_fixture(tmp_path, days=30), seed=4)
    module.setup()
    raw = module.load_raw()
    assert np.array_equal(raw.groups, np.tile(np.arange(30), 3))  # group = day, shared by the three stations
    train, val, test = split_indices(len(raw.values), 0.1, 0.1, seed=4, groups=raw.groups)
    assert set(raw.groups[test]).isdisjoint(raw.groups[train]) and set(raw.groups[val]).isdisjoint(raw.groups[train])
    for paths, index in ((module.train_paths, train), (module.val_paths, val), (module.test_paths, test)):
        restored = module.normaliser.inverse_transform(paths.double())[..., 1:].numpy()
        np.testing.assert_allclose(restored, raw.values[index], rtol=1e-5, atol=1e-3)


def test_normalisation_uses_train_windows_only(tmp_path):
    module = make_module(write_air_quality_fixture(tmp_path, days=30), seed=2)
    module.setup()
    train = module.normaliser.inverse_transform(module.train_paths.double())[..., 1:].reshape(-1, 6).numpy()
    np.testing.assert_allclose(module.normaliser.mean, np.nanmean(train, axis=0), rtol=1e-6)
    np.testing.assert_allclose(module.normaliser.std, np.nanstd(train, axis=0, ddof=1), rtol=1e-5)
    everything = np.concatenate(
        [module.normaliser.inverse_transform(p.double())[..., 1:].reshape(-1, 6).numpy()
         for p in (module.train_paths, module.val_paths, module.test_paths)]
    )
    assert not np.allclose(module.normaliser.mean, np.nanmean(everything, axis=0), rtol=1e-9)


def test_deterministic_split_from_seed(tmp_path):
    archive = write_air_quality_fixture(tmp_path, days=30)
    first, second, other = make_module(archive, seed=1), make_module(archive, seed=1), make_module(archive, seed=2)
    for module in (first, second, other):
        module.setup()
    assert identical(first.test_paths, second.test_paths)
    assert not identical(first.test_paths, other.test_paths)


def test_missing_hours_become_nan_and_sparse_windows_are_dropped(tmp_path):
    directory = write_air_quality_fixture(tmp_path, days=6, as_zip=False, stations=STATIONS)
    file = directory / STATION_FILE.format(station="Dingling")
    lines = file.read_text().splitlines()
    # remove hours 30-47 (most of day 2) from one station: the rows are simply absent, as in a gappy export
    file.write_text("\n".join(lines[:31] + lines[49:]) + "\n")
    module = make_module(directory, max_missing_fraction=0.5)
    raw = module.load_raw()
    assert module.num_dropped_windows == 1 and len(raw.values) == 3 * 6 - 1
    lenient = make_module(directory, max_missing_fraction=0.9)
    raw = lenient.load_raw()
    dingling_day_two = raw.values[6 + 6 + 1]
    assert np.isnan(dingling_day_two[6:]).all() and not np.isnan(dingling_day_two[:6]).all()


def test_missing_file_names_the_file_and_where_to_get_it(tmp_path):
    module = make_module(tmp_path / "PRSA2017_Data_20130301-20170228.zip")
    with pytest.raises(FileNotFoundError) as error:
        module.setup()
    message = str(error.value)
    assert "PRSA2017_Data_20130301-20170228.zip" in message
    assert "https://archive.ics.uci.edu/dataset/501/beijing+multi+site+air+quality+data" in message
    assert "scripts/download_air_quality.sh" in message


def test_directory_without_station_files_is_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="PRSA2017_Data_20130301-20170228.zip"):
        make_module(tmp_path).setup()


def test_zip_without_station_files_is_an_error(tmp_path):
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as stream:
        stream.writestr("readme.txt", "nothing here")
    with pytest.raises(ValueError, match="holds no PRSA_Data_<Station>_20130301-20170228.csv files"):
        make_module(archive).setup()


def test_malformed_csv_messages(tmp_path):
    directory = write_air_quality_fixture(tmp_path, days=3, as_zip=False, stations=("Dongsi",))
    file = directory / STATION_FILE.format(station="Dongsi")
    good = file.read_text()
    lines = good.splitlines()
    cells = lines[5].split(",")
    cells[6] = "lots"  # PM10 of data row 5
    file.write_text("\n".join(lines[:5] + [",".join(cells)] + lines[6:]) + "\n")
    message = r"malformed CSV .*PRSA_Data_Dongsi.*column 'PM10' has non-numeric value 'lots' in data row 5"
    with pytest.raises(ValueError, match=message):
        make_module(directory).setup()
    file.write_text(good.replace('"PM10",', '"PM_10",', 1))
    with pytest.raises(ValueError, match=r"malformed CSV .*missing column\(s\) \['PM10'\]"):
        make_module(directory).setup()
    file.write_text(lines[0] + "\n")
    with pytest.raises(ValueError, match="malformed CSV .*no data rows"):
        make_module(directory).setup()
    file.write_text('1,2,3\n"a,b\n')
    with pytest.raises(ValueError, match="malformed CSV"):
        make_module(directory).setup()


def test_non_increasing_times_are_an_error(tmp_path):
    directory = write_air_quality_fixture(tmp_path, days=3, as_zip=False, stations=("Dongsi",))
    file = directory / STATION_FILE.format(station="Dongsi")
    lines = file.read_text().splitlines()
    lines[10], lines[11] = lines[11], lines[10]
    file.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="times must be strictly increasing, but data row 11"):
        make_module(directory).setup()


def test_series_too_short_for_the_window(tmp_path):
    directory = write_air_quality_fixture(tmp_path, days=1, as_zip=False, stations=("Dongsi",))
    with pytest.raises(ValueError, match="station Dongsi .* covers 24 hours, too short for window_length=48"):
        make_module(directory, window_length=48).setup()


def test_all_windows_too_sparse_is_an_error(tmp_path):
    directory = write_air_quality_fixture(tmp_path, days=3, as_zip=False, missing_fraction=0.8)
    with pytest.raises(ValueError, match="no paths left"):
        make_module(directory, max_missing_fraction=0.2).setup()


def test_channel_and_station_choices_are_validated(tmp_path):
    archive = write_air_quality_fixture(tmp_path, days=3)
    message = r"channels must be distinct, non-empty names from \['PM2.5'.*invalid: \['wd'\]"
    with pytest.raises(ValueError, match=message):
        make_module(archive, channels=["PM2.5", "wd"])
    message = r"stations must be a non-empty subset of \['Aotizhongxin', 'Changping', 'Dingling'\]"
    with pytest.raises(ValueError, match=message):
        make_module(archive, stations=["Atlantis"]).setup()
    weather = make_module(archive, channels=["TEMP", "PRES", "DEWP", "WSPM"], stations=["Changping"])
    weather.setup()
    assert weather.num_channels == 4
    assert len(weather.train_paths) + len(weather.val_paths) + len(weather.test_paths) == 3
    assert set(NUMERIC_COLUMNS) >= set(POLLUTANTS)


def test_station_list_selects_stations(tmp_path):
    """Stations named in the config are the only ones read."""
    archive = write_air_quality_fixture(tmp_path, days=10)
    module = make_module(archive, stations=["Aotizhongxin", "Dingling"])
    module.setup()
    assert len(module.train_paths) + len(module.val_paths) + len(module.test_paths) == 20


def test_num_paths_takes_a_seeded_subset(tmp_path):
    archive = write_air_quality_fixture(tmp_path, days=20)
    full = make_module(archive).load_raw()
    subset = make_module(archive, num_paths=25, seed=1).load_raw()
    again = make_module(archive, num_paths=25, seed=1).load_raw()
    assert len(subset.values) == 25 and np.array_equal(subset.values, again.values, equal_nan=True)
    rows = {full.values[i].tobytes(): i for i in range(len(full.values))}
    chosen = [rows[window.tobytes()] for window in subset.values]  # every subset window is a real window
    assert chosen == sorted(chosen) and np.array_equal(subset.groups, full.groups[chosen])
    with pytest.raises(ValueError, match=r"num_paths must be null or an integer in \[1, 60\], got 61"):
        make_module(archive, num_paths=61).setup()


def test_values_out_of_float32_range_are_refused_naming_file_station_and_row(tmp_path):
    directory = write_air_quality_fixture(tmp_path, days=3, as_zip=False, stations=("Dongsi", "Tiantan", "Wanliu"))
    for station, value in (("Dongsi", "inf"), ("Tiantan", "1e300"), ("Wanliu", "-1e39")):
        file = directory / STATION_FILE.format(station=station)
        good = file.read_text()
        lines = good.splitlines()
        cells = lines[30].split(",")
        cells[10] = value  # O3 of data row 30
        file.write_text("\n".join(lines[:30] + [",".join(cells)] + lines[31:]) + "\n")
        message = (
            rf"CSV .*PRSA_Data_{station}_20130301-20170228.csv: column 'O3' has value {re.escape(f'{float(value):g}')} "
            r"in data row 30; values must be finite numbers of magnitude at most 3.4e\+38 .*write NA"
        )
        with pytest.raises(ValueError, match=message):
            make_module(directory).setup()
        file.write_text(good)


def test_a_missing_channel_column_names_the_columns_to_choose_from(tmp_path):
    directory = write_air_quality_fixture(tmp_path, days=3, as_zip=False, stations=("Dongsi",))
    file = directory / STATION_FILE.format(station="Dongsi")
    file.write_text(file.read_text().replace('"SO2",', '"SO_2",', 1))
    message = r"missing column\(s\) \['SO2'\].*choose dataset.channels from the numeric columns \['PM2.5', 'PM10', 'NO2'"
    with pytest.raises(ValueError, match=message):
        make_module(directory).setup()


# ------------------------------------------------------------------------------------ the real UCI archive
@pytest.fixture(scope="module")
def real_module() -> AirQualityDataModule:
    """The framework's default choices on the real archive (skipped where the archive is absent)."""
    module = make_module(real_air_quality_archive(), batch_size=256)
    module.setup()
    return module


def test_real_archive_default_windows_and_split(real_module):
    """The figures docs/data.md quotes for the real data under the default config."""
    raw = real_module.load_raw()
    assert raw.values.shape == (16639, 24, 6) and real_module.num_dropped_windows == 893
    assert len(raw.values) + real_module.num_dropped_windows == 12 * 1461  # 12 stations x 1461 days
    assert [len(p) for p in (real_module.train_paths, real_module.val_paths, real_module.test_paths)] == [
        13295, 1672, 1672]
    assert real_module.channel_names == POLLUTANTS and real_module.times.tolist() == list(range(24))
    missing = np.isnan(raw.values).mean(axis=(0, 1))
    assert np.all(missing < 0.025)  # after dropping windows with > 50% of a channel missing
    assert np.all(np.mean(np.isnan(raw.values), axis=1) <= 0.5)


def test_real_archive_split_is_by_day_and_statistics_by_train_only(real_module):
    raw = real_module.load_raw()
    train, val, test = split_indices(len(raw.values), 0.1, 0.1, seed=0, groups=raw.groups)
    days = [set(raw.groups[index]) for index in (train, val, test)]
    assert days[0].isdisjoint(days[1]) and days[0].isdisjoint(days[2]) and days[1].isdisjoint(days[2])
    flat = raw.values[train].reshape(-1, 6)
    np.testing.assert_allclose(real_module.normaliser.mean, np.nanmean(flat, axis=0), rtol=1e-9)
    np.testing.assert_allclose(real_module.normaliser.std, np.nanstd(flat, axis=0, ddof=1), rtol=1e-9)

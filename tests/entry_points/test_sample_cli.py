"""``sdegan-sample``: generated paths written in the data's units, channel names and times, for both models."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from sdegan.data import CSVDataModule
from sdegan.data.air_quality import POLLUTANTS
from sdegan.data.example_csv import write_example_csv
from sdegan.evaluate import CONFIG_DIR, TrainedRun, load_trained_run
from sdegan.errors import ConfigurationError
from sdegan.sample import generate, to_data_units
from sdegan.sample import sample as write_samples_of
from tests.data.fixtures import REPOSITORY, real_air_quality_archive
from tests.entry_points.tiny_runs import (
    CHANNELS,
    data_folder,
    failure,
    regular_csv_checkpoint,
    run,
    temporary_folder,
    tiny_checkpoint,
    write_regular_csv,
)

def sample(checkpoint: Path, num_samples: int, output: Path, *arguments: str) -> str:
    out = temporary_folder("sdegan_sample_run_")
    result = run("sdegan-sample", [f"checkpoint={checkpoint}", f"num_samples={num_samples}", f"output={output}",
                                   *arguments, f"hydra.run.dir={out}"], cwd=out)
    assert result.returncode == 0, failure(result)
    return result.stdout


def in_process(checkpoint: Path, num_samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the file must hold: the model's samples, de-normalised by hand with the checkpoint's statistics."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("sample", overrides=[f"checkpoint={checkpoint}", f"num_samples={num_samples}", "output=x.csv"])
    trained = load_trained_run(cfg, [])
    paths, pattern = generate(trained, num_samples, seed)
    normaliser = trained.datamodule.normaliser
    values = paths[..., 1:].double().numpy() * normaliser.std + normaliser.mean
    return paths[..., 0].double().numpy() * normaliser.time_unit, values, pattern


def test_console_script_is_declared():
    scripts = (REPOSITORY / "pyproject.toml").read_text().split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    assert 'sdegan-sample = "sdegan.console:sample"' in scripts.splitlines()


@pytest.mark.parametrize("model", ["sde_gan", "latent_sde"])
def test_csv_output_in_the_datas_units_names_and_times(model, tmp_path):
    checkpoint, csv = regular_csv_checkpoint(model)
    output = tmp_path / "nested" / "samples.csv"
    message = sample(checkpoint, 7, output)
    assert f"wrote 7 paths of length 12 with channels {CHANNELS}" in message and "generation grid" in message
    table = pd.read_csv(output)
    assert list(table.columns) == ["series_id", "time", *CHANNELS] and len(table) == 7 * 12
    assert table["series_id"].tolist() == np.repeat(np.arange(7), 12).tolist()
    np.testing.assert_allclose(table["time"].to_numpy().reshape(7, 12), np.tile(0.5 * np.arange(12), (7, 1)))
    times, values, _ = in_process(checkpoint, 7)
    np.testing.assert_allclose(table[CHANNELS].to_numpy().reshape(7, 12, 2), values, rtol=1e-6)
    data = pd.read_csv(csv)
    # de-normalised: the generated temperatures lie around the data's (37 +- 0.4), not around 0
    assert abs(table["temperature"].mean() - data["temperature"].mean()) < 5 * data["temperature"].std()
    assert abs(table["heart_rate"].mean() - data["heart_rate"].mean()) < 5 * data["heart_rate"].std()


def test_npz_output_holds_the_same_samples(tmp_path):
    checkpoint, _ = regular_csv_checkpoint("sde_gan")
    sample(checkpoint, 5, tmp_path / "s.csv", "seed=4")
    sample(checkpoint, 5, tmp_path / "s.npz", "seed=4")
    table = pd.read_csv(tmp_path / "s.csv")
    with np.load(tmp_path / "s.npz") as stored:
        assert stored["channel_names"].tolist() == CHANNELS and stored["values"].shape == (5, 12, 2)
        np.testing.assert_allclose(stored["values"], table[CHANNELS].to_numpy().reshape(5, 12, 2))
        np.testing.assert_allclose(stored["time"], table["time"].to_numpy().reshape(5, 12))
        assert (stored["pattern_index"] == -1).all()
    sample(checkpoint, 5, tmp_path / "other.npz", "seed=5")
    with np.load(tmp_path / "other.npz") as first, np.load(tmp_path / "s.npz") as second:
        assert not np.allclose(first["values"], second["values"])  # the seed matters


def test_irregular_samples_take_real_observation_patterns(tmp_path):
    csv = write_example_csv(data_folder() / "irregular_for_sampling.csv")
    checkpoint = tiny_checkpoint("dataset=csv", f"dataset.path={csv}")
    message = sample(checkpoint, 20, tmp_path / "s.npz")
    assert "observation times of train paths" in message
    data = pd.read_csv(csv)
    patterns = np.stack([rows["time"].to_numpy() - rows["time"].iloc[0] for _, rows in data.groupby("series_id")])
    with np.load(tmp_path / "s.npz") as stored:
        assert stored["time"].shape == (20, 48) and (stored["pattern_index"] >= 0).all()
        for times in stored["time"]:  # in the file's own time unit, each the pattern of a real series
            assert np.abs(patterns - times).max(axis=1).min() < 1e-4
        assert len({tuple(times) for times in stored["time"]}) > 1


def test_real_air_quality_trains_evaluates_and_samples(tmp_path):
    """``dataset=air_quality dataset.path=<the real zip>``: a tiny run, its evaluation and samples in ug/m3."""
    archive = real_air_quality_archive()
    checkpoint = tiny_checkpoint("dataset=air_quality", f"dataset.path={archive}", "dataset.num_paths=400")
    output = tmp_path / "air.csv"
    sample(checkpoint, 4, output)
    table = pd.read_csv(output)
    assert list(table.columns) == ["series_id", "time", *POLLUTANTS]
    assert table["time"].tolist() == list(range(24)) * 4  # hours since the window's start
    # CO is recorded in hundreds to thousands of ug/m3, SO2 in tens: de-normalised samples keep the order
    assert table["CO"].abs().mean() > 10 * table["SO2"].abs().mean()
    out = temporary_folder("sdegan_evaluation_")
    moved = tmp_path / "moved.zip"
    shutil.copy(archive, moved)
    result = run("sdegan-evaluate", [f"checkpoint={checkpoint}", "metrics=quick", f"dataset.path={moved}",
                                     f"hydra.run.dir={out}"], cwd=out)
    assert result.returncode == 0, failure(result)
    assert "test/mmd" in result.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["num_samples=0", "output=s.csv"], "num_samples must be a positive integer, got 0"),
        (["num_samples=many", "output=s.csv"], "num_samples must be a positive integer, got 'many'"),
        (["num_samples=true", "output=s.csv"], "num_samples must be a positive integer, got True"),
        (["num_samples=3", "output=s.txt"], "output=s.txt must end in one of ['.csv', '.npz']"),
        (["num_samples=3", "output=."], "output=. must end in one of ['.csv', '.npz']"),
        (["num_samples=3"], "output=... is required: the file to write, ending in .csv or .npz"),
        (["output=s.csv"], "num_samples=... is required: how many paths to generate"),
        (["num_samples=3", "output=s.csv", "++dataset.pathh=x"], "dataset.pathh is not a setting of this checkpoint's"),
    ],
)
def test_bad_arguments_are_input_errors(arguments, message):
    checkpoint, _ = regular_csv_checkpoint("sde_gan")
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("sample", overrides=[f"checkpoint={checkpoint}", *arguments])
    with pytest.raises(ConfigurationError) as error:
        write_samples_of(cfg, arguments)
    assert str(error.value).startswith(message)


def test_bad_arguments_get_one_line(tmp_path):
    checkpoint, _ = regular_csv_checkpoint("sde_gan")
    result = run("sdegan-sample", [f"checkpoint={checkpoint}", "num_samples=-2", "output=s.csv",
                                   f"hydra.run.dir={tmp_path}"], cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "sdegan-sample: num_samples must be a positive integer, got -2"


def test_missing_checkpoint_gets_one_line(tmp_path):
    result = run("sdegan-sample", ["checkpoint=nowhere.ckpt", "num_samples=2", "output=s.csv",
                                   f"hydra.run.dir={tmp_path}"], cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "nowhere.ckpt does not exist" in result.stderr


class ContractModel(torch.nn.Module):
    """Stands in for a model under the sampling contract: ``sample(n, times)`` returns ``(n, length, 1 + C)`` with
    channel 0 = the given times (the grid when None) and zeros (the train mean once de-normalised) as values."""

    def __init__(self, grid: torch.Tensor, channels: int) -> None:
        super().__init__()
        self.register_buffer("times", grid)
        self.channels = channels
        self.requested: torch.Tensor | None = None

    def sample(self, num_samples: int, times: torch.Tensor | None = None) -> torch.Tensor:
        self.requested = times
        times = self.times.expand(num_samples, -1) if times is None else times
        return torch.cat([times[..., None], torch.zeros(*times.shape, self.channels)], dim=-1)


def test_irregular_generation_asks_for_train_observation_patterns(tmp_path):
    csv = write_example_csv(tmp_path / "irregular.csv")
    module = CSVDataModule(path=str(csv), batch_size=8, seed=0)
    module.setup()
    trained = TrainedRun(ContractModel(module.times, 1), module, OmegaConf.create({}))
    paths, pattern = generate(trained, 30, seed=2)
    assert trained.model.requested.shape == (30, 48) and (pattern >= 0).all() and len(set(pattern)) > 1
    assert torch.equal(trained.model.requested, module.train_paths[torch.as_tensor(pattern), :, 0])
    times, values = to_data_units(paths, module.normaliser)
    data = pd.read_csv(csv)
    patterns = np.stack([rows["time"].to_numpy() - rows["time"].iloc[0] for _, rows in data.groupby("series_id")])
    for row in times:  # the file's own time unit: each is the pattern of a real series
        assert np.abs(patterns - row).max(axis=1).min() < 1e-4
    np.testing.assert_allclose(values, module.normaliser.mean[0])
    _, same_pattern = generate(trained, 30, seed=2)
    assert np.array_equal(pattern, same_pattern)
    regular = CSVDataModule(path=str(write_regular_csv(tmp_path / "regular.csv")), id_column="patient",
                            time_column="t", batch_size=8, seed=0)
    regular.setup()
    on_grid = TrainedRun(ContractModel(regular.times, 2), regular, OmegaConf.create({}))
    _, pattern = generate(on_grid, 4, seed=0)
    assert on_grid.model.requested is None and (pattern == -1).all()


def test_sample_and_evaluate_honour_num_threads(monkeypatch):
    from hydra import compose, initialize_config_dir

    from sdegan.evaluate import CONFIG_DIR, load_trained_run

    checkpoint, _ = regular_csv_checkpoint("sde_gan")
    for name in ("sample", "evaluate"):
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose(config_name=name, overrides=[f"checkpoint={checkpoint}", "num_threads=2"])
        torch.set_num_threads(1)
        load_trained_run(cfg, [])
        assert torch.get_num_threads() == 2, name

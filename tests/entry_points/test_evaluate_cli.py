"""``sdegan-evaluate`` on checkpoints of other datasets than the default: the checkpoint's own dataset
config, dataset overrides on top of it, and the normaliser saved in the checkpoint."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from sdegan.data import CSVDataModule
from sdegan.data.example_csv import write_example_csv
from sdegan.evaluate import dataset_arguments, use_normaliser
from tests.data.fixtures import write_air_quality_fixture
from tests.entry_points.tiny_runs import (
    data_folder,
    failure,
    regular_csv_checkpoint,
    run,
    temporary_folder,
    tiny_checkpoint,
    write_regular_csv,
)


def evaluate(checkpoint, *arguments: str) -> dict[str, float]:
    out = temporary_folder("sdegan_evaluation_")
    result = run("sdegan-evaluate", [f"checkpoint={checkpoint}", "metrics=quick", *arguments, f"hydra.run.dir={out}"],
                 cwd=out)
    assert result.returncode == 0, failure(result)
    return json.loads((out / "metrics.json").read_text())


def test_irregular_csv_checkpoint_takes_dataset_overrides():
    """Before: ``Could not override 'dataset.path'`` (the evaluate config composed the ou dataset)."""
    csv = write_example_csv(data_folder() / "irregular.csv")
    checkpoint = tiny_checkpoint("dataset=csv", f"dataset.path={csv}")
    moved = data_folder() / "moved" / "irregular.csv"
    moved.parent.mkdir(exist_ok=True)
    shutil.copy(csv, moved)
    metrics = evaluate(checkpoint, f"dataset.path={moved}", "dataset.num_paths=200")
    assert set(metrics) >= {"test/mmd", "test/classification", "test/prediction_tstr", "test/prediction_trtr"}


def test_air_quality_checkpoint_takes_dataset_overrides():
    archive = write_air_quality_fixture(data_folder() / "air", days=40)
    checkpoint = tiny_checkpoint("dataset=air_quality", f"dataset.path={archive}")
    moved = data_folder() / "air_moved" / archive.name
    moved.parent.mkdir(exist_ok=True)
    shutil.copy(archive, moved)
    metrics = evaluate(checkpoint, f"dataset.path={moved}", "dataset.stations=[Aotizhongxin,Dingling]")
    assert 0.0 <= metrics["test/classification"] <= 1.0 and np.isfinite(metrics["test/mmd"])


def test_the_saved_normaliser_is_used_not_a_refit():
    """The same series in other units (x 10 + 5) are other data to the model; a refit would hide it (before: the
    metrics were identical, bit for bit)."""
    checkpoint, csv = regular_csv_checkpoint("sde_gan")
    table = pd.read_csv(csv)
    table[["heart_rate", "temperature"]] = table[["heart_rate", "temperature"]] * 10 + 5
    rescaled = data_folder() / "rescaled.csv"
    table.to_csv(rescaled, index=False)
    same = evaluate(checkpoint)
    other_units = evaluate(checkpoint, f"dataset.path={rescaled}")
    assert other_units["test/mmd"] > 10 * same["test/mmd"]
    assert other_units["test/classification"] > same["test/classification"]


def test_use_normaliser_expresses_the_data_in_the_saved_units(tmp_path):
    original = write_regular_csv(tmp_path / "a.csv")
    table = pd.read_csv(original)
    table["t"] = table["t"] * 4  # another time unit too: 2 hours between observations instead of 0.5
    table[["heart_rate", "temperature"]] = table[["heart_rate", "temperature"]] * 10 + 5
    table.to_csv(tmp_path / "b.csv", index=False)
    modules = [CSVDataModule(path=str(tmp_path / name), id_column="patient", time_column="t", batch_size=8, seed=0)
               for name in ("a.csv", "b.csv")]
    for module in modules:
        module.setup()
    saved, rebuilt = modules[0].normaliser, modules[1]
    before = rebuilt.test_paths.clone()
    use_normaliser(rebuilt, saved.state_dict())
    assert rebuilt.normaliser is not None and rebuilt.normaliser.state_dict() == saved.state_dict()
    # (10 x + 5 - m) / s = 10 (x - m) / s + (9 m + 5) / s
    expected = modules[0].test_paths[..., 1:].double() * 10 + torch.as_tensor((9 * saved.mean + 5) / saved.std)
    torch.testing.assert_close(rebuilt.test_paths[..., 1:].double(), expected, rtol=1e-5, atol=1e-4, equal_nan=True)
    torch.testing.assert_close(rebuilt.test_paths[..., 0], 4 * before[..., 0])  # times in the saved unit
    assert rebuilt.dt == 4.0 and rebuilt.times.tolist() == [4.0 * k for k in range(12)]
    same = modules[0].train_paths.clone()
    use_normaliser(modules[0], saved.state_dict())
    assert torch.equal(modules[0].train_paths.nan_to_num(), same.nan_to_num())  # the same data: bitwise unchanged


def test_unknown_dataset_key_names_the_checkpoints_settings(tmp_path):
    checkpoint, _ = regular_csv_checkpoint("sde_gan")
    result = run("sdegan-evaluate", [f"checkpoint={checkpoint}", "dataset.pth=x.csv", f"hydra.run.dir={tmp_path}"],
                 cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "dataset.pth is not a setting of this checkpoint's dataset (sdegan.data.CSVDataModule)" in result.stderr
    assert "'path'" in result.stderr and "dataset=<name>" in result.stderr


def test_checkpoint_is_required(tmp_path):
    result = run("sdegan-evaluate", [f"hydra.run.dir={tmp_path}"], cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("sdegan-evaluate: checkpoint=... is required")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["checkpoint=a", "dataset.path=b"], ["checkpoint=a", "++dataset.path=b"]),
        (["dataset=csv", "dataset.path=b"], ["dataset=csv", "dataset.path=b"]),
        (["+dataset=csv", "dataset.path=b"], ["+dataset=csv", "dataset.path=b"]),
        (["metrics=quick", "seed=2"], ["metrics=quick", "seed=2"]),
    ],
)
def test_dataset_overrides_need_no_plus_without_a_dataset_choice(arguments, expected):
    assert dataset_arguments(arguments) == expected

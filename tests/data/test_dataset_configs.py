"""Every sdegan/configs/dataset/*.yaml composes with the root config and instantiates a working data module."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from sdegan.data import PathDataModule
from tests.data.fixtures import write_air_quality_fixture
from sdegan.config_dir import CONFIG_DIR as PACKAGE_CONFIG_DIR

CONFIG_DIR = Path(PACKAGE_CONFIG_DIR)
DATASETS = sorted(path.stem for path in (CONFIG_DIR / "dataset").glob("*.yaml"))


def tiny_overrides(name: str, tmp_path: Path) -> list[str]:
    if name == "ou":
        return ["dataset.num_paths=64", "dataset.length=16"]
    if name == "weights":
        return ["dataset.num_paths=32", "dataset.length=8", "dataset.record_every=2", f"dataset.cache_dir={tmp_path}"]
    if name == "air_quality":
        return [f"dataset.path={write_air_quality_fixture(tmp_path, days=12)}"]
    return []


def test_the_four_datasets_exist():
    assert set(DATASETS) >= {"ou", "weights", "air_quality", "csv"}


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_config_instantiates_a_path_datamodule(name, tmp_path):
    overrides = [f"dataset={name}", "seed=3", "dataset.batch_size=8", *tiny_overrides(name, tmp_path)]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    assert cfg.dataset.seed == 3 and cfg.dataset.num_workers == 0
    module = instantiate(cfg.dataset, _recursive_=False)
    assert isinstance(module, PathDataModule)
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch.shape == (8, len(module.times), 1 + module.num_channels)
    assert not torch.isnan(batch[..., 0]).any()
    for paths in (module.train_paths, module.val_paths, module.test_paths):
        assert len(paths) > 0 and paths.shape[1:] == batch.shape[1:]
    restored = module.normaliser.inverse_transform(batch)
    assert torch.equal(restored[..., 0], batch[..., 0])
    assert module.dt > 0 and module.times.dtype == torch.float32


def test_default_sizes():
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        ou = compose(config_name="train", overrides=["dataset=ou"]).dataset
        weights = compose(config_name="train", overrides=["dataset=weights"]).dataset
    assert (ou.num_paths, ou.length, ou.missing_fraction) == (8192, 64, 0.3)
    assert (ou.mu, ou.theta, ou.sigma, ou.simulation_dt) == (0.02, 0.1, 0.4, 0.1)
    assert weights.cache_dir == "data/cache"

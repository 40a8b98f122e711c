"""``sdegan-evaluate``: the test metrics of a trained generator, from its checkpoint alone.

    sdegan-evaluate checkpoint=outputs/default/<run>/checkpoints/last.ckpt [dataset overrides]
    sdegan-evaluate checkpoint=... dataset.path=moved/my_series.csv    # the checkpoint's dataset, one key changed
    sdegan-evaluate checkpoint=... dataset=csv dataset.path=other.csv   # another dataset config altogether

The data is rebuilt from the dataset config stored in the checkpoint (the same split, from the run's
seed), with any ``dataset.<key>=<value>`` applied on top, and expressed in the units the model was trained
in: the normaliser saved in the checkpoint, not one refitted on the rebuilt data. Prints the metrics
(signature MMD, classification accuracy, TSTR/TRTR prediction loss; mean +- std over ``metrics.repeats``)
and writes them to ``metrics.json`` in the evaluation's run directory (strict JSON: an undefined value such
as the std of a single repeat is ``null``).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from sdegan import builders
from sdegan.config_dir import CONFIG_DIR
from sdegan.data import Normaliser, PathDataModule
from sdegan.errors import ConfigurationError, exit_on_input_error
from sdegan.metrics import evaluate_generator
from sdegan.run_config import load_checkpoint
from sdegan.run_outputs import write_json
from sdegan.training.split_sizes import warn_about_small_splits

SPLITS = ("train", "val", "test")
CHECKPOINT_MEANING = "the .ckpt file of a run (sdegan-train writes <run dir>/checkpoints/last.ckpt)"


@dataclass
class TrainedRun:
    """A checkpoint's model in evaluation mode, its rebuilt data (in the model's units) and its run config."""

    model: pl.LightningModule
    datamodule: PathDataModule
    run_cfg: DictConfig


def require(cfg: DictConfig, keys: dict[str, str]) -> None:
    """A one-line error naming the first of ``keys`` (name -> what it is) left unset (``???``)."""
    for key, meaning in keys.items():
        if OmegaConf.is_missing(cfg, key):
            raise ConfigurationError(f"{key}=... is required: {meaning}")


def dataset_arguments(arguments: list[str]) -> list[str]:
    """Command-line arguments with ``dataset.<key>=<value>`` made ``++dataset.<key>=<value>`` unless a
    ``dataset=<name>`` choice is given: without one no dataset config is composed (the checkpoint's own is
    used, see :func:`dataset_config`), so Hydra would have nothing to override."""
    if any(argument.split("=", 1)[0].lstrip("+~") == "dataset" for argument in arguments):
        return arguments
    return [f"++{argument}" if argument.startswith("dataset.") else argument for argument in arguments]


def dataset_config(cfg: DictConfig, run_cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """The checkpoint's dataset config, unless the command line (``overrides``) chose another dataset.

    ``dataset=<name>`` replaces it by the composed choice; ``dataset.<key>=<value>`` overrides
    apply on top of the checkpoint's own, and must name one of its keys.
    """
    overrides = [o.lstrip("+~") for o in overrides]
    if any(o.split("=", 1)[0] == "dataset" for o in overrides):
        return cfg.dataset
    chosen = run_cfg.dataset.copy()
    for override in overrides:
        key = override.split("=", 1)[0]
        if not key.startswith("dataset."):
            continue
        name = key.removeprefix("dataset.")
        if name.split(".", 1)[0] not in chosen:
            raise ConfigurationError(
                f"{key} is not a setting of this checkpoint's dataset ({chosen.get('_target_')}); its settings are "
                f"{[k for k in chosen if k != '_target_']}. To evaluate on another dataset choose it with dataset=<name>"
            )
        OmegaConf.update(chosen, name, OmegaConf.select(cfg, key), force_add=True)
    return chosen


def saved_normaliser_state(checkpoint: dict[str, Any], run_cfg: DictConfig) -> dict[str, Any] | None:
    """The state of the normaliser the model was trained with (Lightning stores the datamodule's state under
    its class name), or None for checkpoints written before the datamodule saved it."""
    class_name = str(run_cfg.dataset.get("_target_", "")).rsplit(".", 1)[-1]
    return (checkpoint.get(class_name) or {}).get("normaliser")


def use_normaliser(datamodule: PathDataModule, state: dict[str, Any]) -> None:
    """Express the datamodule's splits in the units of the normaliser ``state`` (values and time), replacing
    its own fit. A no-op when both agree (the same data rebuilt), so the paths stay bitwise those of training.
    """
    fitted = datamodule.normaliser
    normaliser = Normaliser.from_state_dict({"time_unit": fitted.time_unit, **state})  # older states: no time unit
    if normaliser.num_channels != fitted.num_channels:
        raise ConfigurationError(
            f"the checkpoint's model was trained on {normaliser.num_channels} channels {normaliser.channel_names}; "
            f"the data given has {fitted.num_channels} ({fitted.channel_names})"
        )
    if normaliser.state_dict() == fitted.state_dict():
        return
    time_factor = fitted.time_unit / normaliser.time_unit
    for split in SPLITS:
        original = fitted.inverse_transform(getattr(datamodule, f"{split}_paths").double())
        original[..., 0] *= time_factor
        setattr(datamodule, f"{split}_paths", normaliser.transform(original).float())
    datamodule.times = datamodule.times * time_factor  # the generation grid and solver step in the same unit
    datamodule.dt = datamodule.dt * time_factor
    datamodule.normaliser = normaliser


def load_trained_run(cfg: DictConfig, overrides: list[str]) -> TrainedRun:
    """Rebuild ``cfg.checkpoint``'s model and data: its own dataset config with the dataset overrides among the
    command line's ``overrides`` (see :func:`dataset_config`), normalised by the checkpoint's normaliser; torch
    uses ``cfg.num_threads`` CPU threads."""
    builders.apply_num_threads(cfg)
    checkpoint, run_cfg = load_checkpoint(cfg.checkpoint)
    pl.seed_everything(cfg.seed, workers=True)
    normaliser_state = saved_normaliser_state(checkpoint, run_cfg)
    with open_dict(run_cfg):
        run_cfg.dataset = dataset_config(cfg, run_cfg, overrides)
        run_cfg.dataset.seed = run_cfg.seed
    datamodule = builders.build_datamodule(run_cfg)
    if normaliser_state is not None:  # else (checkpoints written before it was saved) the refitted one
        use_normaliser(datamodule, normaliser_state)
    model = builders.build_model(run_cfg, datamodule)
    model.load_state_dict(checkpoint["state_dict"])
    model.on_load_checkpoint(checkpoint)
    model.eval()
    return TrainedRun(model, datamodule, run_cfg)


def evaluate(cfg: DictConfig, overrides: list[str]) -> dict[str, float]:
    """Rebuild the checkpoint's model and compute its test metrics (``overrides``: the command line's)."""
    require(cfg, {"checkpoint": CHECKPOINT_MEANING})
    run = load_trained_run(cfg, overrides)
    warn_about_small_splits(run.datamodule, cfg.metrics)
    return evaluate_generator(None, run.datamodule.train_paths, run.datamodule.test_paths, cfg.metrics,
                              seed=cfg.seed, sample_like_fn=run.model.sample_like)


def format_metrics(results: dict[str, float]) -> str:
    """One line per metric: ``name: mean +- std``."""
    lines = []
    for name, value in results.items():
        if name.endswith("_std"):
            continue
        std = results.get(f"{name}_std", math.nan)
        lines.append(f"  {name}: {value:.4g} +- {std:.2g}")
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate")
def _main(cfg: DictConfig) -> None:
    with exit_on_input_error("sdegan-evaluate"):
        results = evaluate(cfg, list(HydraConfig.get().overrides.task))
    print(f"== sdegan-evaluate {cfg.checkpoint} ==")
    print(format_metrics(results))
    run_dir = builders.run_directory()
    write_json(run_dir / "metrics.json", results)  # NaN (e.g. the std of one repeat) as null
    print(f"written to {run_dir / 'metrics.json'}")


def main() -> None:
    """Console-script entry point."""
    sys.argv[1:] = dataset_arguments(sys.argv[1:])
    _main()

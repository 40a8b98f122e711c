"""``sdegan-evaluate``: the test metrics of a trained generator, from its checkpoint alone.

    sdegan-evaluate checkpoint=outputs/default/<run>/checkpoints/last.ckpt [dataset overrides]

Prints the metrics (signature MMD, classification accuracy, TSTR/TRTR prediction loss; mean +- std
over ``metrics.repeats``) and writes them to ``metrics.json`` in the evaluation's run directory (strict
JSON: an undefined value such as the std of a single repeat is ``null``).
"""

from __future__ import annotations

import math
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from sdegan import builders
from sdegan.errors import exit_on_input_error
from sdegan.metrics import evaluate_generator
from sdegan.run_config import load_checkpoint
from sdegan.run_outputs import write_json
from sdegan.training.split_sizes import warn_about_small_splits

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "configs")


def dataset_config(cfg: DictConfig, run_cfg: DictConfig) -> DictConfig:
    """The checkpoint's dataset config, unless the command line chose another dataset.

    ``dataset=<name>`` replaces it by the composed choice; ``dataset.<key>=<value>`` overrides
    apply on top of the checkpoint's own.
    """
    overrides = [o.lstrip("+~") for o in HydraConfig.get().overrides.task]
    if any(o.split("=", 1)[0] == "dataset" for o in overrides):
        return cfg.dataset
    chosen = run_cfg.dataset.copy()
    for override in overrides:
        key = override.split("=", 1)[0]
        if key.startswith("dataset."):
            OmegaConf.update(chosen, key.removeprefix("dataset."), OmegaConf.select(cfg, key), force_add=True)
    return chosen


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Rebuild the checkpoint's model and compute its test metrics."""
    checkpoint, run_cfg = load_checkpoint(cfg.checkpoint)
    pl.seed_everything(cfg.seed, workers=True)
    with open_dict(run_cfg):
        run_cfg.dataset = dataset_config(cfg, run_cfg)
        run_cfg.dataset.seed = run_cfg.seed
    datamodule = builders.build_datamodule(run_cfg)
    model = builders.build_model(run_cfg, datamodule)
    model.load_state_dict(checkpoint["state_dict"])
    model.on_load_checkpoint(checkpoint)
    model.eval()
    warn_about_small_splits(datamodule, cfg.metrics)
    return evaluate_generator(
        model.sample, datamodule.train_paths, datamodule.test_paths, cfg.metrics, seed=cfg.seed
    )


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
        results = evaluate(cfg)
    print(f"== sdegan-evaluate {cfg.checkpoint} ==")
    print(format_metrics(results))
    run_dir = builders.run_directory()
    write_json(run_dir / "metrics.json", results)  # NaN (e.g. the std of one repeat) as null
    print(f"written to {run_dir / 'metrics.json'}")


def main() -> None:
    """Console-script entry point."""
    _main()

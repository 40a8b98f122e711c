"""``sdegan-train``: train a neural SDE (SDE-GAN or latent SDE) from a composed Hydra config.

    sdegan-train                                     # SDE-GAN on OU, the paper's clipped recipe
    sdegan-train dataset=air_quality model=latent_sde solver=midpoint gradient=direct seed=3
    sdegan-train -m solver=midpoint,reversible_heun seed=0,1,2       # a sweep
    sdegan-train --cfg job                           # print the composed config and exit

The run directory (printed at the start) holds the composed config (``.hydra/config.yaml``), CSV
metrics, an offline wandb run, checkpoints, sample plots and ``summary.json``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig
from pytorch_lightning.loggers import WandbLogger

from sdegan import builders
from sdegan.errors import exit_on_input_error
from sdegan.metrics import MetricsConfig, apply_missing_pattern, signature_mmd
from sdegan.training import NonFiniteLossError

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "configs")


def summary_mmd(cfg: DictConfig, real: torch.Tensor, fake: torch.Tensor) -> float:
    """Signature MMD between real and generated paths with the run's configured kernel.

    The generated paths get the real paths' missing-value pattern first, as in the test metrics.
    """
    settings = MetricsConfig.from_mapping(cfg.metrics).mmd
    fake = apply_missing_pattern(fake.cpu(), real.cpu())
    return float(signature_mmd(real.cpu(), fake, **dataclasses.asdict(settings)))


def fit(cfg: DictConfig) -> dict[str, Any]:
    """Train the configured model and return the end-of-run summary."""
    pl.seed_everything(cfg.seed, workers=True)
    if cfg.get("num_threads") is not None:
        torch.set_num_threads(cfg.num_threads)
    run_dir = builders.run_directory()
    datamodule = builders.build_datamodule(cfg)
    model = builders.build_model(cfg, datamodule)

    real = datamodule.test_paths[: cfg.summary_samples]
    with torch.no_grad():
        untrained = model.sample(len(real))

    checkpoint_dir = run_dir / "checkpoints"
    trainer = pl.Trainer(
        **builders.trainer_kwargs(cfg),
        logger=builders.build_loggers(cfg) or False,
        callbacks=builders.build_callbacks(cfg, run_dir, checkpoint_dir),
        default_root_dir=str(run_dir),
    )
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
    except NonFiniteLossError as error:
        last_good = sorted(checkpoint_dir.glob("*.ckpt"))
        where = f"the last good checkpoint is {last_good[-1]}" if last_good else "no checkpoint was written yet"
        raise SystemExit(f"sdegan-train stopped: {error}\n{where}") from None

    with torch.no_grad():
        trained = model.sample(len(real))
    summary = {
        "mmd_trained": summary_mmd(cfg, real, trained),
        "mmd_untrained": summary_mmd(cfg, real, untrained),
        "num_real_test_paths": len(real),
        "run_dir": str(run_dir),
    }
    if cfg.test_after_fit:
        (test_metrics,) = trainer.test(model, datamodule=datamodule)
        summary.update(test_metrics)
    scalars = {f"summary/{k}": v for k, v in summary.items() if isinstance(v, float)}
    for logger in trainer.loggers:
        logger.log_metrics(scalars)
        if isinstance(logger, WandbLogger):  # one row per run: compare runs of a group in a wandb table
            logger.log_table(key="summary_table", columns=list(scalars), data=[list(scalars.values())])
        logger.finalize("success")
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    """Print the end-of-run summary the README describes."""
    print("\n== sdegan-train summary ==")
    print(f"run directory: {summary['run_dir']}")
    print(
        f"signature MMD vs {summary['num_real_test_paths']} held-out real paths (lower is better):\n"
        f"  trained generator:   {summary['mmd_trained']:.4g}\n"
        f"  untrained generator: {summary['mmd_untrained']:.4g}"
    )


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _main(cfg: DictConfig) -> float:
    with exit_on_input_error("sdegan-train"):
        summary = fit(cfg)
    print_summary(summary)
    return optimized_value(cfg, summary)


def optimized_value(cfg: DictConfig, summary: dict[str, Any]) -> float:
    """The summary value named by ``optimized_metric``: what ``sdegan-train`` returns to a sweeper (Optuna)."""
    key = cfg.get("optimized_metric") or "mmd_trained"
    if key not in summary:
        numbers = sorted(k for k, v in summary.items() if isinstance(v, float))
        raise SystemExit(
            f"sdegan-train: optimized_metric={key!r} is not in the run's summary; available: {', '.join(numbers)}"
            " (test metrics need test_after_fit=true)"
        )
    return float(summary[key])


def main() -> None:
    """Console-script entry point."""
    _main()

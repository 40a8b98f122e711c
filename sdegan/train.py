"""``sdegan-train``: train a neural SDE (SDE-GAN or latent SDE) from a composed Hydra config.

    sdegan-train                                     # SDE-GAN on OU, the paper's clipped recipe
    sdegan-train dataset=air_quality model=latent_sde solver=midpoint gradient=direct seed=3
    sdegan-train -m solver=midpoint,reversible_heun seed=0,1,2       # a sweep
    sdegan-train --cfg job                           # print the composed config and exit

The run directory (printed at the start) holds the composed config (``.hydra/config.yaml``), CSV
metrics, an offline wandb run, checkpoints, sample plots, training curves, ``summary.json`` and ``train.log`` (the run's
messages and, for a failed run, why it stopped). Checkpoints are written atomically, the final one before
any plot or summary; divergence, a full disk and Ctrl-C end the run with one line naming the step, the last
good checkpoint and how to resume.
"""

from __future__ import annotations

import dataclasses
import logging
import shlex
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig
from pytorch_lightning.loggers import WandbLogger

from sdegan import builders
from sdegan.config_dir import CONFIG_DIR
from sdegan.errors import exit_on_input_error
from sdegan.metrics import MetricsConfig, apply_missing_pattern, signature_mmd
from sdegan.run_config import check_resumable, check_run_values, load_checkpoint
from sdegan.run_outputs import DISK_FULL_ERRNOS, json_ready, write_json
from sdegan.training import AtomicCheckpointIO, CheckpointWriteError, NonFiniteLossError
from sdegan.training.split_sizes import warn_about_small_splits


log = logging.getLogger(__name__)
# Records for the run's train.log only (sdegan/configs/hydra/default.yaml): what the console already shows.
run_log = logging.getLogger("sdegan_run_log")


def summary_mmd(cfg: DictConfig, real: torch.Tensor, other: torch.Tensor, *, generated: bool = True) -> float:
    """Signature MMD between real paths and ``other`` paths with the run's configured kernel.

    Generated paths get the real paths' missing-value pattern first, as in the test metrics; other
    real paths (``generated=False``: the reference a generator as good as the data would score)
    keep their own.
    """
    settings = MetricsConfig.from_mapping(cfg.metrics).mmd
    other = apply_missing_pattern(other.cpu(), real.cpu()) if generated else other.cpu()
    return float(signature_mmd(real.cpu(), other, **dataclasses.asdict(settings)))


def fit(cfg: DictConfig) -> dict[str, Any]:
    """Train the configured model and return the end-of-run summary.

    Faults end the run with a one-line :class:`SystemExit` naming the step and the last good checkpoint:
    divergence (:class:`NonFiniteLossError`), a checkpoint or output that cannot be written (full disk),
    and Ctrl-C (with the command that resumes the run).
    """
    check_run_values(cfg)
    pl.seed_everything(cfg.seed, workers=True)
    builders.apply_num_threads(cfg)
    run_dir = builders.run_directory()
    log.info("sdegan-train %s", shlex.join(_task_overrides()))
    log.info("run directory: %s", run_dir)
    datamodule = builders.build_datamodule(cfg)
    model = builders.build_model(cfg, datamodule)
    if cfg.ckpt_path is not None:
        checkpoint, stored_cfg = load_checkpoint(cfg.ckpt_path)
        check_resumable(cfg.ckpt_path, checkpoint, stored_cfg, cfg, model)
        log.info("resuming from %s (step %d)", cfg.ckpt_path, checkpoint.get("global_step", 0))
        del checkpoint
    if cfg.test_after_fit:
        warn_about_small_splits(datamodule, cfg.metrics)

    real = datamodule.test_paths[: cfg.summary_samples]
    with torch.no_grad():
        untrained = model.sample_like(real)

    checkpoint_io = AtomicCheckpointIO()
    trainer = pl.Trainer(
        **builders.trainer_kwargs(cfg),
        logger=builders.build_loggers(cfg) or False,
        callbacks=builders.build_callbacks(cfg),
        plugins=[checkpoint_io],
        default_root_dir=str(run_dir),
    )

    def last_good(before_step: int | None = None) -> str:
        latest = checkpoint_io.latest(before_step)
        if latest is not None:
            return f"the last good checkpoint is {latest[0].resolve()} (step {latest[1]})"
        if cfg.ckpt_path is not None:
            return f"the last good checkpoint is {Path(cfg.ckpt_path).resolve()} (this run resumed from it)"
        return "no checkpoint was written before it" if before_step is not None else "no checkpoint was written yet"

    def resume_hint() -> str:
        latest = checkpoint_io.latest()
        checkpoint = latest[0] if latest else (Path(cfg.ckpt_path) if cfg.ckpt_path is not None else None)
        if checkpoint is None:
            return "start it again"
        overrides = [o for o in _task_overrides() if o.split("=", 1)[0].lstrip("+~") != "ckpt_path"]
        return "resume with: " + shlex.join(["sdegan-train", *overrides, f"ckpt_path={checkpoint.resolve()}"])

    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
        with torch.no_grad():
            trained = model.sample_like(real)
        model.divergence_guard.watch("generated samples after training", trained[..., 1:])
        model.divergence_guard.check(trainer.global_step)
        summary = _summarise(cfg, trainer, model, datamodule, run_dir, real, trained, untrained)
    except NonFiniteLossError as error:
        found = checkpoint_io.latest(error.step) is not None or cfg.ckpt_path is not None
        raise SystemExit(
            f"sdegan-train stopped: {error}; {last_good(before_step=error.step)}; "
            f"{'resume from it' if found else 'start again'} with a lower learning rate (or a larger "
            "model.divergence_threshold if such values are expected)"
        ) from None
    except OSError as error:
        if not isinstance(error, CheckpointWriteError) and error.errno not in DISK_FULL_ERRNOS:
            raise
        target = error.path if isinstance(error, CheckpointWriteError) else error.filename
        where = f"{Path(target).name} in {Path(target).parent.resolve()}" if target else f"to {run_dir.resolve()}"
        raise SystemExit(
            f"sdegan-train stopped at step {trainer.global_step}: could not write {where} "
            f"({error.strerror or error}); {last_good()}; free space (or choose another disk with "
            f"hydra.run.dir=...) and {resume_hint()}"
        ) from None
    except (KeyboardInterrupt, SystemExit) as interruption:
        # Lightning turns Ctrl-C during fit into sys.exit(1) after shutting down; ours keep their message.
        if isinstance(interruption, SystemExit) and not trainer.interrupted:
            raise
        raise SystemExit(
            f"sdegan-train interrupted at step {trainer.global_step}; {last_good()}; {resume_hint()}"
        ) from None
    return summary


def _summarise(cfg: DictConfig, trainer: pl.Trainer, model: pl.LightningModule, datamodule: Any,
               run_dir: Path, real: torch.Tensor, trained: torch.Tensor, untrained: torch.Tensor) -> dict[str, Any]:
    """The end-of-run summary (and test metrics), logged to the run's loggers and written to summary.json."""
    summary = {
        "mmd_trained": summary_mmd(cfg, real, trained),
        "mmd_untrained": summary_mmd(cfg, real, untrained),
        "mmd_real": summary_mmd(cfg, real, datamodule.train_paths[: len(real)], generated=False),
        "mmd_kernel": MetricsConfig.from_mapping(cfg.metrics).mmd.kernel,
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
    write_json(run_dir / "summary.json", summary)
    run_log.info("summary: %s", json_ready(summary))
    return summary


def _task_overrides() -> list[str]:
    """The command-line overrides of this run (what ``sdegan-train`` was given, Hydra's own excluded)."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task)


def print_summary(summary: dict[str, Any]) -> None:
    """Print the end-of-run summary the README describes."""
    print("\n== sdegan-train summary ==")
    print(f"run directory: {summary['run_dir']}")
    bound = "0 = same law, at most 4" if summary["mmd_kernel"] == "normalised" else "unbounded"
    print(
        f"signature MMD^2 ({summary['mmd_kernel']} kernel: {bound}; docs/metrics.md) vs "
        f"{summary['num_real_test_paths']} held-out real paths (lower is better):\n"
        f"  trained generator:   {summary['mmd_trained']:.4g}\n"
        f"  untrained generator: {summary['mmd_untrained']:.4g}\n"
        f"  real training paths: {summary['mmd_real']:.4g}   (a generator as good as the data)"
    )


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _main(cfg: DictConfig) -> float:
    try:
        with exit_on_input_error("sdegan-train"):
            summary = fit(cfg)
    except SystemExit as stop:  # the one line the console shows, also in the run's train.log
        run_log.error("%s", stop.code)
        raise
    except KeyboardInterrupt:  # fit reports the interruptions from the trainer's start on
        stop = "sdegan-train interrupted before training started; no checkpoint was written"
        run_log.error("%s", stop)
        raise SystemExit(stop) from None
    except BaseException:  # a bug: its traceback in train.log too
        run_log.exception("sdegan-train failed")
        raise
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

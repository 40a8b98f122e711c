"""Lightning callbacks: checkpoints that keep the final step, sample-path plots and generator metrics
(``val/mmd``, test metrics)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from sdegan.random_state import preserved_rng
from sdegan.training.plots import sample_paths_figure
from sdegan.errors import ConfigurationError

__all__ = ["FinalStepCheckpoint", "SamplePlotCallback", "GeneratorMetricsCallback"]


def _datamodule(trainer: pl.Trainer) -> Any:
    datamodule = trainer.datamodule
    if datamodule is None:
        raise ConfigurationError("this callback needs the run's datamodule: call trainer.fit(model, datamodule=...)")
    return datamodule


def _generated_samples(trainer: pl.Trainer, pl_module: pl.LightningModule, real: torch.Tensor) -> torch.Tensor:
    """As many generated paths as ``real``, at its times, on the CPU, drawn without disturbing training's
    random streams and checked by the module's divergence guard (if it has one), so diverged samples stop
    the run here."""
    with preserved_rng():
        samples = pl_module.sample(real.size(0), real[..., 0]).cpu()
    guard = getattr(pl_module, "divergence_guard", None)
    if guard is not None:
        guard.watch("generated samples", samples[..., 1:])
        guard.check(trainer.global_step)
    return samples


class FinalStepCheckpoint(ModelCheckpoint):
    """A :class:`~pytorch_lightning.callbacks.ModelCheckpoint` that also saves after the final training
    step (``trainer.max_steps``), wherever ``every_n_train_steps`` falls.

    Saved at the end of that batch, like every step checkpoint, so it is written before any end-of-training
    hook (plots, summaries) and its loop state resumes exactly: extending the run with a larger
    ``max_steps`` continues it as if it had never stopped.
    """

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if trainer.global_step == trainer.max_steps and not self._should_skip_saving_checkpoint(trainer):
            candidates = self._monitor_candidates(trainer)
            self._save_topk_checkpoint(trainer, candidates)
            self._save_last_checkpoint(trainer, candidates)


class SamplePlotCallback(pl.Callback):
    """Writes a PNG of real vs generated paths in original units, with marginal histograms.

    The real paths are the datamodule's ``val_paths``; both sets go through
    ``datamodule.normaliser.inverse_transform``. Written at the end of training as
    ``<output_dir>/<filename>`` (default: the trainer's ``default_root_dir``) and, with
    ``every_n_validations > 0``, also after every n-th validation as ``samples_step<N>.png``. Logged
    to wandb (key ``samples``) when a ``WandbLogger`` is attached. Sampling does not disturb the
    training run's random streams; the samples go through the module's divergence guard.
    """

    def __init__(
        self,
        output_dir: str | None = None,
        filename: str = "samples.png",
        num_samples: int = 512,
        num_paths: int = 32,
        histogram_fractions: Sequence[float] = (0.0, 0.5, 1.0),
        channel: int = 0,
        every_n_validations: int = 0,
    ) -> None:
        if num_samples < 2 or num_paths < 1 or every_n_validations < 0:
            raise ConfigurationError("need num_samples >= 2, num_paths >= 1 and every_n_validations >= 0")
        self.output_dir = output_dir
        self.filename = filename
        self.num_samples = num_samples
        self.num_paths = num_paths
        self.histogram_fractions = tuple(histogram_fractions)
        self.channel = channel
        self.every_n_validations = every_n_validations
        self._validations = 0

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.every_n_validations == 0:
            return
        self._validations += 1
        if self._validations % self.every_n_validations == 0:
            self.plot(trainer, pl_module, f"samples_step{trainer.global_step}.png")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.plot(trainer, pl_module, self.filename)

    def plot(self, trainer: pl.Trainer, pl_module: pl.LightningModule, filename: str) -> Path | None:
        """Draw, save and log the figure; returns its path (``None`` on non-zero ranks)."""
        if not trainer.is_global_zero:
            return None
        datamodule = _datamodule(trainer)
        real = datamodule.val_paths[: self.num_samples]
        generated = _generated_samples(trainer, pl_module, real)
        normaliser = datamodule.normaliser
        figure = sample_paths_figure(
            normaliser.inverse_transform(real.cpu()),
            normaliser.inverse_transform(generated),
            channel=self.channel,
            num_paths=self.num_paths,
            histogram_fractions=self.histogram_fractions,
            title=f"step {trainer.global_step}",
        )
        directory = Path(self.output_dir or trainer.default_root_dir)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / filename
        figure.savefig(path, dpi=100)
        plt.close(figure)
        for logger in trainer.loggers:
            if isinstance(logger, pl.loggers.WandbLogger):
                logger.log_image(key="samples", images=[str(path)], step=trainer.global_step)
        return path


class GeneratorMetricsCallback(pl.Callback):
    """Logs ``val/mmd`` after each validation and the ``test/*`` metrics of ``sdegan.metrics``.

    ``val/mmd``: signature MMD (``metrics.mmd`` settings) between up to ``val_samples`` validation
    paths and as many generated paths; ``val/mmd_real``: the same between those validation paths
    and as many training paths (computed once: what a generator as good as the data scores).
    Test: :func:`sdegan.metrics.evaluate_generator` against the datamodule's train/test paths with
    the ``metrics`` config, at the end of ``trainer.test``.
    Sampling does not disturb the training run's random streams; the samples go through the module's
    divergence guard, so a generator that diverged in its last update stops the run here.

    Arguments:
        metrics: the Hydra ``metrics`` config (a mapping for ``MetricsConfig.from_mapping``).
        val_samples: paths per side for ``val/mmd``.
        seed: base seed of the test metrics.
    """

    def __init__(self, metrics: Mapping[str, Any] | None = None, val_samples: int = 256, seed: int = 0) -> None:
        from sdegan.metrics import MetricsConfig

        self.config = MetricsConfig() if metrics is None else MetricsConfig.from_mapping(metrics)
        if val_samples < 2:
            raise ConfigurationError(f"val_samples must be >= 2, got {val_samples}")
        self.val_samples = val_samples
        self.seed = seed
        self.val_mmd_real: float | None = None

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        import dataclasses

        from sdegan.metrics import apply_missing_pattern, signature_mmd

        real = _datamodule(trainer).val_paths[: self.val_samples].cpu()
        generated = apply_missing_pattern(_generated_samples(trainer, pl_module, real), real)
        value = signature_mmd(real, generated, **dataclasses.asdict(self.config.mmd))
        pl_module.log("val/mmd", value, prog_bar=True, sync_dist=True)
        if self.val_mmd_real is None:
            reference = _datamodule(trainer).train_paths[: real.size(0)].cpu()
            self.val_mmd_real = signature_mmd(real, reference, **dataclasses.asdict(self.config.mmd))
        pl_module.log("val/mmd_real", self.val_mmd_real, sync_dist=True)

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from sdegan.metrics import evaluate_generator

        datamodule = _datamodule(trainer)
        # trainer.test runs under inference mode; the metrics train small classifiers/predictors.
        with torch.inference_mode(False), torch.enable_grad(), preserved_rng():
            results = evaluate_generator(
                lambda n, times: pl_module.sample(n, times).cpu(),
                datamodule.train_paths.cpu(),
                datamodule.test_paths.cpu(),
                self.config,
                seed=self.seed,
                prefix="test",
            )
        pl_module.log_dict(results, sync_dist=True)

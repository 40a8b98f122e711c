"""Lightning callbacks: checkpoints that keep the final step, sample-path plots, training curves and
generator metrics (``val/mmd``, test metrics)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import csv

import matplotlib.pyplot as plt
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from sdegan.random_state import preserved_rng
from sdegan.training.plots import sample_paths_figure, training_curves_figure
from sdegan.errors import ConfigurationError

__all__ = ["FinalStepCheckpoint", "SamplePlotCallback", "GeneratorMetricsCallback", "TrainingCurvesCallback"]


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
        samples = pl_module.sample_like(real).cpu()
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


def _log_image(trainer: pl.Trainer, key: str, path: Path) -> None:
    """Log the PNG at ``path`` to every attached ``WandbLogger`` under ``key``."""
    for logger in trainer.loggers:
        if isinstance(logger, pl.loggers.WandbLogger):
            logger.log_image(key=key, images=[str(path)], step=trainer.global_step)


class SamplePlotCallback(pl.Callback):
    """Writes a PNG of real vs generated paths in the data's units, one row per value channel with marginal
    histograms.

    The real paths are the datamodule's ``val_paths``; both sets go through
    ``datamodule.normaliser.inverse_transform`` (values) and times are multiplied by its ``time_unit`` (the
    data's own time unit, as ``sdegan-sample`` writes them). Rows are labelled with the datamodule's channel
    names and, where known, units (``channel_units``, else a ``channel_units`` mapping of the datamodule).
    Written at the end of training as ``<output_dir>/<filename>`` (default: the trainer's
    ``default_root_dir``) and, with ``every_n_validations > 0``, also after every n-th validation as
    ``samples_step<N>.png``. Logged to wandb (key ``samples``) when a ``WandbLogger`` is attached. Sampling
    does not disturb the training run's random streams; the samples go through the module's divergence guard.

    Arguments:
        channels: the value channels to draw (0 = the first after time); default the first ``max_channels``.
        max_channels: at most this many rows when ``channels`` is not given (null: every channel).
        channel_units: channel name -> unit, for the axis labels.
    """

    def __init__(
        self,
        output_dir: str | None = None,
        filename: str = "samples.png",
        num_samples: int = 512,
        num_paths: int = 32,
        histogram_fractions: Sequence[float] = (0.0, 0.5, 1.0),
        channels: Sequence[int] | None = None,
        max_channels: int | None = 8,
        channel_units: Mapping[str, str] | None = None,
        every_n_validations: int = 0,
    ) -> None:
        if num_samples < 2 or num_paths < 1 or every_n_validations < 0:
            raise ConfigurationError("need num_samples >= 2, num_paths >= 1 and every_n_validations >= 0")
        if max_channels is not None and max_channels < 1:
            raise ConfigurationError(f"max_channels must be a positive number of channels or null, got {max_channels}")
        self.output_dir = output_dir
        self.filename = filename
        self.num_samples = num_samples
        self.num_paths = num_paths
        self.histogram_fractions = tuple(histogram_fractions)
        self.channels = None if channels is None else list(channels)
        self.max_channels = max_channels
        self.channel_units = dict(channel_units or {})
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

    def channel_labels(self, datamodule: Any, num_channels: int) -> list[str]:
        """``<name> [<unit>]`` per value channel: the normaliser's (or datamodule's) channel names, if any."""
        names = getattr(datamodule.normaliser, "channel_names", None) or getattr(datamodule, "channel_names", None)
        names = list(names) if names is not None else [f"channel {c}" for c in range(num_channels)]
        units = {**(getattr(datamodule, "channel_units", None) or {}), **self.channel_units}
        return [f"{name} [{units[name]}]" if units.get(name) else str(name) for name in names]

    def plot(self, trainer: pl.Trainer, pl_module: pl.LightningModule, filename: str) -> Path | None:
        """Draw, save and log the figure; returns its path (``None`` on non-zero ranks)."""
        if not trainer.is_global_zero:
            return None
        datamodule = _datamodule(trainer)
        real = datamodule.val_paths[: self.num_samples]
        generated = _generated_samples(trainer, pl_module, real)
        normaliser = datamodule.normaliser
        real, generated = normaliser.inverse_transform(real.cpu()), normaliser.inverse_transform(generated)
        time_unit = float(getattr(normaliser, "time_unit", 1.0))
        real[..., 0] *= time_unit
        generated[..., 0] *= time_unit
        num_channels = real.size(-1) - 1
        shown = min(num_channels, self.max_channels or num_channels)
        channels = self.channels if self.channels is not None else list(range(shown))
        subset = f" (channels {channels} of {num_channels})" if len(channels) < num_channels else ""
        figure = sample_paths_figure(
            real,
            generated,
            channels=channels,
            channel_labels=self.channel_labels(datamodule, num_channels),
            num_paths=self.num_paths,
            histogram_fractions=self.histogram_fractions,
            title=f"step {trainer.global_step}{subset}",
        )
        directory = Path(self.output_dir or trainer.default_root_dir)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / filename
        figure.savefig(path, dpi=100)
        plt.close(figure)
        _log_image(trainer, "samples", path)
        return path


class TrainingCurvesCallback(pl.Callback):
    """Records the run's training losses (``train/*``, every step) and validation metrics (``val/*``, every
    validation) and draws them against the step at the end of training.

    Writes ``<output_dir>/<filename>`` (default ``training_curves.png`` in the trainer's ``default_root_dir``)
    and the values drawn as ``training_curves.csv`` (columns ``step, metric, value``; also rewritten after
    every validation); logged to wandb (key ``training_curves``) when a ``WandbLogger`` is attached.

    A resumed run continues the same curves from step 1: the record travels in every checkpoint, and the
    validation that ran at the checkpoint's own step (after the checkpoint was written) is read back from the
    checkpointed run's ``training_curves.csv`` when that file is still there.

    Arguments:
        exclude: metric names not drawn (default: the step's wall time).
    """

    def __init__(
        self,
        output_dir: str | None = None,
        filename: str = "training_curves.png",
        exclude: Sequence[str] = ("train/step_time",),
    ) -> None:
        self.output_dir = output_dir
        self.filename = filename
        self.exclude = frozenset(exclude)
        self.history: dict[str, list[tuple[int, float]]] = {}
        self._csv_path: Path | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._csv_path = (Path(self.output_dir or trainer.default_root_dir) / self.filename).with_suffix(".csv")

    def _record(self, trainer: pl.Trainer, prefix: str) -> None:
        for name, value in trainer.callback_metrics.items():
            if name.startswith(prefix) and name not in self.exclude:
                self.history.setdefault(name, []).append((trainer.global_step, float(value)))

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._record(trainer, "train/")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._record(trainer, "val/")
            if trainer.is_global_zero:
                self._write_csv()

    def state_dict(self) -> dict[str, Any]:
        return {"history": {name: list(points) for name, points in self.history.items()},
                "file": None if self._csv_path is None else str(self._csv_path.resolve())}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = {name: [(int(s), float(v)) for s, v in points] for name, points in state_dict["history"].items()}
        last_step = max((s for points in self.history.values() for s, _ in points), default=0)
        file = state_dict.get("file")
        if file is None or not Path(file).is_file():
            return
        for name, points in read_training_curves(Path(file)).items():
            known = {s for s, _ in self.history.get(name, [])}
            extra = [(s, v) for s, v in points if s <= last_step and s not in known]
            if extra:
                self.history[name] = sorted(self.history.get(name, []) + extra)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.write(trainer)

    def _write_csv(self) -> None:
        assert self._csv_path is not None, "setup() runs before any training"
        self._csv_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._csv_path, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["step", "metric", "value"])
            for name, points in self.history.items():
                writer.writerows((step, name, value) for step, value in points)

    def write(self, trainer: pl.Trainer) -> Path | None:
        """Draw, save and log the figure and its CSV; returns the figure's path (``None`` on non-zero ranks)."""
        if not trainer.is_global_zero:
            return None
        self._write_csv()
        path = self._csv_path.with_suffix(Path(self.filename).suffix)
        figure = training_curves_figure(self.history, title=f"training curves to step {trainer.global_step}")
        figure.savefig(path, dpi=100)
        plt.close(figure)
        _log_image(trainer, "training_curves", path)
        return path


def read_training_curves(path: Path) -> dict[str, list[tuple[int, float]]]:
    """Metric name -> ``(step, value)`` pairs of a ``training_curves.csv`` (:class:`TrainingCurvesCallback`)."""
    history: dict[str, list[tuple[int, float]]] = {}
    with open(path, newline="") as stream:
        for row in csv.DictReader(stream):
            history.setdefault(row["metric"], []).append((int(row["step"]), float(row["value"])))
    return history


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
                None,
                datamodule.train_paths.cpu(),
                datamodule.test_paths.cpu(),
                self.config,
                seed=self.seed,
                prefix="test",
                # at the real paths' times; a forecasting model continues their prefixes
                sample_like_fn=lambda real: pl_module.sample_like(real.to(pl_module.device)).cpu(),
            )
        pl_module.log_dict(results, sync_dist=True)

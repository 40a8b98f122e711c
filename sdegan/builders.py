"""Turn a composed Hydra config into the objects of a run (datamodule, model, loggers, trainer).

Shared by the entry points ``sdegan-train`` and ``sdegan-evaluate``; holds no training logic itself.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sdegan.errors import ConfigurationError

TRAINER_EXTRA_KEYS = ("checkpoint_every_n_steps",)
# Trainer arguments that sdegan-train builds from the config group of the same name.
GROUP_BUILT_TRAINER_KEYS = ("callbacks", "logger")


def apply_num_threads(cfg: DictConfig) -> None:
    """Set torch's CPU thread count to ``cfg.num_threads`` (null or absent: torch's default)."""
    if cfg.get("num_threads") is not None:
        import torch

        torch.set_num_threads(cfg.num_threads)


def build_datamodule(cfg: DictConfig) -> pl.LightningDataModule:
    """Instantiate the dataset's LightningDataModule and run its ``setup`` so shapes are known."""
    datamodule = instantiate(cfg.dataset, _recursive_=False)
    datamodule.setup("fit")
    return datamodule


def build_solve_options(cfg: DictConfig, datamodule: Any) -> dict[str, Any]:
    """The keyword arguments every solve of the run gets, from the solver/gradient/brownian groups.

    A ``solver.dt`` of null takes the dataset's suggested step (``datamodule.dt``), else the smallest
    spacing of its time grid.
    """
    dt = cfg.solver.get("dt")
    if dt is None:
        dt = getattr(datamodule, "dt", None)
    if dt is None:
        dt = float(datamodule.times.diff().min())
    options: dict[str, Any] = {
        "method": cfg.solver.method,
        "gradient": cfg.gradient.name,
        "brownian": cfg.brownian.name,
        "dt": float(dt),
        "grid_policy": cfg.solver.get("grid_policy") or "divide",
        "coupling": cfg.solver.get("coupling"),
    }
    for key in ("rtol", "atol"):
        if cfg.solver.get(key) is not None:
            options[key] = float(cfg.solver[key])
    if cfg.gradient.get("norm") is not None:
        options["norm"] = cfg.gradient.norm
    if cfg.brownian.get("tol") is not None:
        options["brownian_tol"] = float(cfg.brownian.tol)
    return options


def build_model(cfg: DictConfig, datamodule: Any) -> pl.LightningModule:
    """Instantiate the configured LightningModule for the datamodule's data shape.

    Every solve of the run is specified and validated here (:func:`build_run_specs`), so a combination
    that some solve cannot do is refused before training starts.
    """
    model = instantiate(
        cfg.model,
        data_channels=datamodule.num_channels,
        times=datamodule.times,
        solve_options=build_solve_options(cfg, datamodule),
        _recursive_=False,
    )
    build_run_specs(cfg, model)
    return model


def build_run_specs(cfg: DictConfig, model: Any) -> dict[str, Any]:
    """The solve specs of every problem the run solves: the model's (built with it: generator SDE and
    discriminator CDE, or the latent SDE) and the metric models' (the CDE classifier's, when configured).

    Raises:
        ConfigurationError: naming the valid choices, if any solve cannot do the configured combination.
    """
    from sdegan.models.solve_options import solve_spec

    specs = dict(model.solve_specs())
    metrics = cfg.get("metrics") or {}
    classification = metrics.get("classification") or {}
    if "classification" in (metrics.get("include") or []) and classification.get("model") == "cde":
        options = OmegaConf.to_container(classification.solve_options, resolve=True)
        specs["metric_classifier"] = solve_spec("cde", options)
    return specs


def build_loggers(cfg: DictConfig) -> list[Any]:
    """One Lightning logger per entry of the ``logger`` group (empty for ``logger=none``)."""
    return [instantiate(node) for node in (cfg.get("logger") or {}).values()]


def trainer_kwargs(cfg: DictConfig) -> dict[str, Any]:
    """The ``trainer`` group as keyword arguments of ``pytorch_lightning.Trainer``."""
    kwargs = OmegaConf.to_container(cfg.trainer, resolve=True)
    assert isinstance(kwargs, dict)
    for key in TRAINER_EXTRA_KEYS:
        kwargs.pop(key, None)
    for key in GROUP_BUILT_TRAINER_KEYS:
        if key in kwargs:
            raise ConfigurationError(
                f"trainer.{key} is set by sdegan-train from the {key} group, not the trainer's config: "
                f"use {key}=... or +{key}.<name>._target_=... (sdegan/configs/{key}) instead of trainer.{key}"
            )
    return kwargs


def run_directory() -> Path:
    """The Hydra output directory of the current run."""
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def build_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    """One callback per entry of the ``callbacks`` group (each instantiated from its ``_target_``; entries
    set to null are skipped), then the one that stores the run config in every checkpoint."""
    # Our modules step their optimiser once per batch; a checkpoint after that step is the state to
    # resume from, which is what this warning (meant for multi-step manual loops) says it saves.
    warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")

    from sdegan.run_config import StoreConfigInCheckpoint

    callbacks = []
    for name, node in (cfg.get("callbacks") or {}).items():
        if node is None:
            continue
        if not isinstance(node, DictConfig) or "_target_" not in node:
            raise ConfigurationError(
                f"callbacks.{name} must be a mapping with a _target_ (the callback class), got {node!r}"
            )
        callbacks.append(instantiate(node))
    return [*callbacks, StoreConfigInCheckpoint(cfg)]

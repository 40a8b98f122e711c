"""A run's config: checked values, kept inside its checkpoints, and compared when a run is resumed."""

from __future__ import annotations

import pickle
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from sdegan.errors import ConfigurationError, DataError, MissingFileError

CHECKPOINT_KEY = "sdegan_config"
# Dataset keys that change how the data is served, not which data it is: a resume may change them.
SERVING_DATASET_KEYS = frozenset({"batch_size", "num_workers"})
# Model keys whose value must be a positive integer (network sizes).
_SIZE_KEYS = ("width", "depth")
GPU_ACCELERATORS = ("gpu", "cuda")
# Errors torch.load raises for a file that is not a readable checkpoint (damaged, truncated, text, other zip).
_UNREADABLE = (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zlib.error, zipfile.BadZipFile)


class StoreConfigInCheckpoint(pl.Callback):
    """Writes the run's resolved config (without Hydra's own node) into every checkpoint."""

    def __init__(self, cfg: DictConfig) -> None:
        self.config = run_config_container(cfg)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[CHECKPOINT_KEY] = self.config


def run_config_container(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain containers, without Hydra's own node."""
    run_cfg = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
    container = OmegaConf.to_container(run_cfg, resolve=True)
    assert isinstance(container, dict)
    return container


def load_checkpoint(path: str | Path) -> tuple[dict[str, Any], DictConfig]:
    """Read a checkpoint written by ``sdegan-train``; returns it and the run config it carries.

    Raises (each with a one-line message naming the file and what to do):
        MissingFileError: no file at ``path``.
        ConfigurationError: ``path`` is a directory, or the file is not an sdegan checkpoint.
        DataError: the file cannot be read (damaged, truncated, text, another zip).
    """
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.ckpt")) or sorted(path.glob("checkpoints/*.ckpt"))
        example = next((p for p in found if p.name == "last.ckpt"), found[-1] if found else path / "last.ckpt")
        raise ConfigurationError(f"checkpoint {path} is a directory; give a checkpoint file, e.g. {example}")
    if not path.is_file():
        raise MissingFileError(
            f"checkpoint {path} does not exist; sdegan-train writes them to <run dir>/checkpoints/"
        )
    try:
        _verify_checksums(path)
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except _UNREADABLE as error:
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise DataError(
            f"checkpoint {path} cannot be read ({reason}): it is damaged, truncated or not a checkpoint; "
            f"use another one (e.g. an earlier step*.ckpt in {path.parent}) or train again"
        ) from None
    if not isinstance(checkpoint, dict) or CHECKPOINT_KEY not in checkpoint or "state_dict" not in checkpoint:
        raise ConfigurationError(
            f"{path} is not a checkpoint written by sdegan-train (it has no run config or weights); "
            "give a .ckpt from <run dir>/checkpoints/"
        )
    return checkpoint, OmegaConf.create(checkpoint[CHECKPOINT_KEY])


def _verify_checksums(path: Path) -> None:
    """Raise ``zipfile.BadZipFile`` if an entry of the (zip-format) checkpoint fails its CRC: torch.load
    does not check them, so damaged weights would otherwise load silently."""
    if not zipfile.is_zipfile(path):
        return
    with zipfile.ZipFile(path) as archive:
        damaged = archive.testzip()
    if damaged is not None:
        raise zipfile.BadZipFile(f"{damaged} fails its checksum")


def _flatten(node: Any, prefix: str) -> dict[str, Any]:
    if isinstance(node, Mapping):
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(_flatten(value, f"{prefix}.{key}"))
        return flat
    return {prefix: node}


def _differences(stored: Any, current: Any, prefix: str, free: frozenset[str] = frozenset()) -> list[str]:
    """``"<key>: <stored> in the checkpoint, <current> now"`` for each leaf set in both that differs and
    is not named in ``free`` (a key only one side has is a setting added since, at its default)."""
    stored_flat, current_flat = _flatten(stored or {}, prefix), _flatten(current or {}, prefix)
    return [
        f"{key}: {stored_flat[key]} in the checkpoint, {current_flat[key]} now"
        for key in sorted(set(stored_flat) & set(current_flat))
        if key.rsplit(".", 1)[-1] not in free and stored_flat[key] != current_flat[key]
    ]


def check_resumable(path: str | Path, checkpoint: Mapping[str, Any], stored: DictConfig, cfg: DictConfig,
                    model: torch.nn.Module) -> None:
    """Refuse (:class:`ConfigurationError`, naming the differences) a resume onto other data or another model.

    The data must be the checkpoint's (``dataset`` settings equal except batch size and workers); the model
    the same class and settings, except the hyperparameters the module lists in
    ``RESUMABLE_HYPERPARAMETERS`` (learning rates and the like: the module applies and reports those),
    and its weights must have the checkpoint's names and shapes.
    """
    current = run_config_container(cfg)
    stored_run = OmegaConf.to_container(stored, resolve=True)
    assert isinstance(stored_run, dict)
    data = _differences(stored_run.get("dataset"), current.get("dataset"), "dataset", SERVING_DATASET_KEYS)
    if data:
        raise ConfigurationError(
            f"cannot resume from {path}: it was trained on other data ({'; '.join(data)}); resume with the "
            "checkpoint's dataset settings, or start a new run without ckpt_path"
        )
    free = frozenset(getattr(model, "RESUMABLE_HYPERPARAMETERS", ()))
    architecture = _differences(stored_run.get("model"), current.get("model"), "model", free)
    if architecture:
        raise ConfigurationError(
            f"cannot resume from {path}: it holds another model ({'; '.join(architecture)}); resume with the "
            "checkpoint's model settings, or start a new run without ckpt_path"
        )
    saved = {name: tuple(tensor.shape) for name, tensor in checkpoint["state_dict"].items()}
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    mismatched = [
        f"{name}: {saved.get(name, 'absent')} in the checkpoint, {expected.get(name, 'absent')} now"
        for name in sorted(set(saved) | set(expected)) if saved.get(name) != expected.get(name)
    ]
    if mismatched:
        raise ConfigurationError(
            f"cannot resume from {path}: its weights do not fit this model ({len(mismatched)} differ, e.g. "
            f"{'; '.join(mismatched[:3])}); resume with the checkpoint's settings, or start a new run"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_run_values(cfg: DictConfig) -> None:
    """Refuse values no run can use, naming the key (:class:`ConfigurationError`): a non-integer seed,
    no training steps, a non-positive solver step or network size, data splits too small to train and
    measure on, and a GPU trainer without a CUDA build of torch."""
    if not _is_int(cfg.get("seed")):
        raise ConfigurationError(f"seed must be an integer, got {cfg.get('seed')!r}")
    trainer = cfg.trainer
    max_steps, max_epochs = trainer.get("max_steps"), trainer.get("max_epochs")
    other_limit = (_is_int(max_epochs) and max_epochs >= 1) or trainer.get("max_time") is not None
    unlimited_steps = max_steps == -1 and other_limit
    if not _is_int(max_steps) or (max_steps < 1 and not unlimited_steps):
        raise ConfigurationError(
            f"trainer.max_steps must be a positive number of training steps (or -1 with trainer.max_epochs "
            f">= 1 or a trainer.max_time), got {max_steps!r}; nothing would be trained"
        )
    every = trainer.get("checkpoint_every_n_steps")
    if not _is_int(every) or every < 1:
        raise ConfigurationError(f"trainer.checkpoint_every_n_steps must be a positive integer, got {every!r}")
    dt = cfg.solver.get("dt")
    if dt is not None and (isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0):
        raise ConfigurationError(f"solver.dt must be a positive step (or null for the data's spacing), got {dt!r}")
    for key, value in cfg.model.items():
        if value is None and str(key).endswith("_batch_size"):  # null = the whole batch (sample sizes)
            continue
        if (str(key).endswith("_size") or key in _SIZE_KEYS) and not (_is_int(value) and value >= (key != "depth")):
            least = "a non-negative" if key == "depth" else "a positive"
            raise ConfigurationError(f"model.{key} must be {least} integer, got {value!r}")
    _check_split_sizes(cfg.dataset)
    accelerator = str(trainer.get("accelerator", "")).lower()
    if accelerator in GPU_ACCELERATORS and not torch.cuda.is_available():
        raise ConfigurationError(
            f"trainer.accelerator={accelerator} but this torch ({torch.__version__}) sees no CUDA GPU; install a "
            "CUDA build of torch (README, 'GPU': SDEGAN_TORCH_SPEC=... SDEGAN_TORCH_INDEX_URL="
            "https://download.pytorch.org/whl/cu128 bash scripts/test.sh) or use trainer=cpu"
        )


def _check_split_sizes(dataset: DictConfig) -> None:
    """Generated datasets (with ``num_paths``): every split needs at least 2 paths (normalisation, MMD)."""
    num_paths = dataset.get("num_paths")
    if num_paths is None:
        return
    from sdegan.data.raw import split_counts

    if not _is_int(num_paths):
        raise ConfigurationError(f"dataset.num_paths must be an integer, got {num_paths!r}")
    val_fraction, test_fraction = dataset.get("val_fraction", 0.1), dataset.get("test_fraction", 0.1)
    counts = dict(zip(("train", "val", "test"), split_counts(num_paths, val_fraction, test_fraction)))
    if min(counts.values()) < 2:
        sizes = ", ".join(f"{count} {name}" for name, count in counts.items())
        raise ConfigurationError(
            f"dataset.num_paths={num_paths} splits into {sizes} paths (val_fraction={val_fraction}, "
            f"test_fraction={test_fraction}); every split needs at least 2: raise dataset.num_paths"
        )

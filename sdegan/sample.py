"""``sdegan-sample``: generated paths of a trained model, written to a file in the data's own units.

    sdegan-sample checkpoint=outputs/default/<run>/checkpoints/last.ckpt num_samples=1000 output=samples.csv
    sdegan-sample checkpoint=... num_samples=1000 output=samples.npz seed=3
    sdegan-sample checkpoint=... num_samples=10 output=s.csv dataset.path=moved/my_series.csv

The checkpoint's model and data are rebuilt as by ``sdegan-evaluate`` (its own dataset config, any
``dataset.<key>=...`` on top). Values are de-normalised with the normaliser saved in the checkpoint and
times are in the data's time unit (for the csv dataset: the file's unit, hours for datetimes, since the
path's first observation). By the suffix of ``output``:

- ``.csv``: long format, one row per observation: ``series_id`` (0 .. num_samples - 1), ``time``, then one
  column per channel under the data's channel names;
- ``.npz``: ``time`` ``(num_samples, length)``, ``values`` ``(num_samples, length, channels)``,
  ``channel_names`` ``(channels,)`` and ``pattern_index`` (see below; -1 where unused).

Regular data (every train path on one time grid) is generated on that grid. Irregular data is generated at
real observation patterns: path ``i`` takes the observation times of train path ``pattern_index[i]``, drawn
uniformly with replacement from the train split (seeded by ``seed``), so the samples have the data's own
spacing and gaps in time.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sdegan.data import Normaliser
from sdegan.errors import ConfigurationError, exit_on_input_error
from sdegan.config_dir import CONFIG_DIR
from sdegan.evaluate import CHECKPOINT_MEANING, TrainedRun, dataset_arguments, load_trained_run, require

FORMATS = (".csv", ".npz")


def output_path(output: object) -> Path:
    """``output`` as a path with one of the :data:`FORMATS` suffixes; its folder is created when missing."""
    path = Path(str(output))
    if path.suffix.lower() not in FORMATS:
        raise ConfigurationError(f"output={output} must end in one of {list(FORMATS)} (the file format to write)")
    if path.is_dir():
        raise ConfigurationError(f"output={output} is a directory; give a file name ending in .csv or .npz")
    return path


def sample_count(num_samples: object) -> int:
    """``num_samples`` checked to be a positive integer."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ConfigurationError(f"num_samples must be a positive integer, got {num_samples!r}")
    return num_samples


def is_regular(run: TrainedRun) -> bool:
    """Whether every train path is observed on the model's generation grid."""
    train_times = run.datamodule.train_paths[..., 0]
    grid = run.model.times.to(train_times)
    return train_times.shape[1] == grid.numel() and torch.equal(train_times, grid.expand_as(train_times))


def generate(run: TrainedRun, num_samples: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """``num_samples`` generated paths ``(num_samples, length, 1 + channels)`` in the model's units, and for
    each the index of the train path whose observation times it takes (all -1 for regular data)."""
    pl.seed_everything(seed, workers=True)
    if is_regular(run):
        return run.model.sample(num_samples), np.full(num_samples, -1)
    train_times = run.datamodule.train_paths[..., 0]
    pattern = torch.randint(len(train_times), (num_samples,), generator=torch.Generator().manual_seed(seed))
    times = train_times[pattern].to(run.model.times)
    return run.model.sample(num_samples, times=times), pattern.numpy()


def to_data_units(paths: torch.Tensor, normaliser: Normaliser) -> tuple[np.ndarray, np.ndarray]:
    """Times ``(paths, length)`` and values ``(paths, length, channels)`` in the data's own units (float64)."""
    original = normaliser.inverse_transform(paths.detach().double().cpu())
    return original[..., 0].numpy() * normaliser.time_unit, original[..., 1:].numpy()


def write_samples(
    path: Path, times: np.ndarray, values: np.ndarray, channel_names: list[str], pattern_index: np.ndarray
) -> None:
    """Write the samples to ``path`` in the format of its suffix (see the module docstring), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    try:
        with os.fdopen(handle, "wb") as stream:
            if path.suffix.lower() == ".csv":
                num_paths, length = times.shape
                frame = pd.DataFrame({"series_id": np.repeat(np.arange(num_paths), length), "time": times.reshape(-1)})
                for channel, name in enumerate(channel_names):
                    frame[name] = values[..., channel].reshape(-1)
                frame.to_csv(stream, index=False)
            else:
                np.savez(
                    stream, time=times, values=values, channel_names=np.array(channel_names), pattern_index=pattern_index
                )
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def sample(cfg: DictConfig, overrides: list[str]) -> str:
    """Generate ``cfg.num_samples`` paths of ``cfg.checkpoint`` into ``cfg.output``; returns what was written."""
    require(cfg, {
        "checkpoint": CHECKPOINT_MEANING,
        "num_samples": "how many paths to generate",
        "output": "the file to write, ending in .csv or .npz",
    })
    path = output_path(cfg.output)
    num_samples = sample_count(cfg.num_samples)
    run = load_trained_run(cfg, overrides)
    paths, pattern_index = generate(run, num_samples, cfg.seed)
    normaliser = run.datamodule.normaliser
    times, values = to_data_units(paths, normaliser)
    write_samples(path, times, values, list(normaliser.channel_names), pattern_index)
    where = (
        "on the generation grid" if bool(np.all(pattern_index < 0))
        else "at the observation times of train paths drawn at random (pattern_index in the .npz)"
    )
    return (
        f"wrote {num_samples} paths of length {times.shape[1]} with channels {list(normaliser.channel_names)} "
        f"(the data's units), generated {where}, to {path}"
    )


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="sample")
def _main(cfg: DictConfig) -> None:
    with exit_on_input_error("sdegan-sample"):
        print(sample(cfg, list(HydraConfig.get().overrides.task)))


def main() -> None:
    """Console-script entry point."""
    sys.argv[1:] = dataset_arguments(sys.argv[1:])
    _main()


if __name__ == "__main__":
    main()

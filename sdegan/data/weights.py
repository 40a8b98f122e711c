"""The "weights" dataset: trajectories of a small network's weights during SGD, one training run per path.

Procedure (docs/data.md): every run fits the same 1-D regression task (``training_points`` inputs
``x ~ U(-3, 3)``, targets ``sin(x) + 0.1 N(0, 1)``, drawn once from the seed) with an MLP
``1 -> hidden_width (tanh) -> 1`` initialised like ``torch.nn.Linear`` (uniform, bound ``1/sqrt(fan_in)``), trained by
plain SGD on the mean squared error with minibatches drawn uniformly with replacement. Runs differ in their
initialisation and minibatch sequence. The ``hidden_width`` hidden-to-output weights are the channels,
recorded at initialisation and then every ``record_every`` SGD steps (``length`` records; time channel =
record index). All arithmetic is float64 numpy with hand-written gradients, vectorised over runs, so the data
is identical for identical settings and seed; results are cached on disk after the first generation.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Unpack

import numpy as np

from sdegan.data.datamodule import DataModuleOptions, PathDataModule
from sdegan.data.raw import STREAM_DATA, STREAM_TASK, RawPaths, seeded_rng
from sdegan.errors import DataError


def generate_weight_trajectories(
    num_runs: int,
    length: int,
    *,
    record_every: int,
    hidden_width: int,
    learning_rate: float,
    sgd_batch_size: int,
    training_points: int,
    seed: int,
) -> np.ndarray:
    """Hidden-to-output weights of ``num_runs`` independent SGD runs, shape ``(num_runs, length, hidden_width)``."""
    for name, value in (
        ("num_runs", num_runs),
        ("record_every", record_every),
        ("hidden_width", hidden_width),
        ("sgd_batch_size", sgd_batch_size),
        ("training_points", training_points),
    ):
        if not isinstance(value, int) or value < 1:
            raise DataError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(length, int) or length < 2:
        raise DataError(f"length must be an integer >= 2, got {length!r}")
    if not learning_rate > 0:
        raise DataError(f"learning_rate must be positive, got {learning_rate}")

    task_rng = seeded_rng(seed, STREAM_TASK)
    inputs = task_rng.uniform(-3.0, 3.0, size=training_points)
    targets = np.sin(inputs) + 0.1 * task_rng.standard_normal(training_points)

    rng = seeded_rng(seed, STREAM_DATA)
    w1 = rng.uniform(-1.0, 1.0, size=(num_runs, 1, hidden_width))  # fan_in 1
    b1 = rng.uniform(-1.0, 1.0, size=(num_runs, 1, hidden_width))
    bound = 1.0 / np.sqrt(hidden_width)
    w2 = rng.uniform(-bound, bound, size=(num_runs, 1, hidden_width))
    b2 = rng.uniform(-bound, bound, size=(num_runs, 1))

    parameters = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}
    records = np.empty((num_runs, length, hidden_width))
    records[:, 0] = w2[:, 0]
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
        for record in range(1, length):
            for _ in range(record_every):
                batch = rng.integers(0, training_points, size=(num_runs, sgd_batch_size))
                parameters = sgd_step(parameters, inputs[batch], targets[batch], learning_rate)
            records[:, record] = parameters["w2"][:, 0]
    if not np.all(np.isfinite(records)):
        raise DataError(f"SGD diverged (non-finite weights) with learning_rate={learning_rate}; use a smaller one")
    return records


def sgd_step(
    parameters: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, learning_rate: float
) -> dict[str, np.ndarray]:
    """One SGD step on the mean squared error of ``w2 . tanh(w1 x + b1) + b2``, independently for every run.

    Arguments:
        parameters: ``w1, b1, w2`` of shape ``(runs, 1, width)`` and ``b2`` of shape ``(runs, 1)``.
        x, y: minibatch inputs and targets, ``(runs, batch)``.
        learning_rate: SGD step size.
    """
    w1, b1, w2, b2 = parameters["w1"], parameters["b1"], parameters["w2"], parameters["b2"]
    hidden = np.tanh(x[..., None] * w1 + b1)  # (runs, batch, width)
    residual = np.sum(hidden * w2, axis=-1) + b2 - y  # (runs, batch)
    d_output = (2.0 / y.shape[-1]) * residual  # d(mean squared error) / d(prediction)
    d_pre = d_output[..., None] * w2 * (1.0 - hidden**2)  # (runs, batch, width)
    return {
        "w1": w1 - learning_rate * np.sum(d_pre * x[..., None], axis=1, keepdims=True),
        "b1": b1 - learning_rate * np.sum(d_pre, axis=1, keepdims=True),
        "w2": w2 - learning_rate * np.sum(d_output[..., None] * hidden, axis=1, keepdims=True),
        "b2": b2 - learning_rate * np.sum(d_output, axis=1, keepdims=True),
    }


class WeightsDataModule(PathDataModule):
    """Weight trajectories of small networks trained by SGD (see the module docstring and docs/data.md).

    ``hidden_width`` channels; times ``0, 1, ..., length - 1`` in units of ``record_every`` SGD steps;
    normalised per channel with train-split statistics; ``dt`` 1.0.

    Arguments:
        num_paths: number of independent training runs (one path each).
        length: records per run (the first at initialisation).
        record_every: SGD steps between records.
        hidden_width: hidden units of the network = number of channels.
        learning_rate, sgd_batch_size, training_points: the SGD runs' settings.
        cache_dir: where generated trajectories are cached (``None`` disables caching).
        batch_size, seed, val_fraction, test_fraction, num_workers: :class:`DataModuleOptions`.
    """

    default_batch_size = 1024

    def __init__(
        self,
        *,
        num_paths: int = 8192,
        length: int = 64,
        record_every: int = 8,
        hidden_width: int = 4,
        learning_rate: float = 0.05,
        sgd_batch_size: int = 8,
        training_points: int = 256,
        cache_dir: str | None = "data/cache",
        **options: Unpack[DataModuleOptions],
    ) -> None:
        super().__init__(**options)
        self.generation_settings = {
            "num_runs": num_paths,
            "length": length,
            "record_every": record_every,
            "hidden_width": hidden_width,
            "learning_rate": learning_rate,
            "sgd_batch_size": sgd_batch_size,
            "training_points": training_points,
            "seed": self.seed,
        }
        self.cache_dir = None if cache_dir is None else Path(cache_dir)

    @property
    def description(self) -> str:
        return f"weights dataset ({self.generation_settings})"

    @property
    def cache_file(self) -> Path | None:
        """The cache file for these settings (named by a hash of them), or ``None`` when caching is off."""
        if self.cache_dir is None:
            return None
        key = json.dumps({"version": 1, **self.generation_settings}, sort_keys=True)
        return self.cache_dir / f"weights_{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"

    def prepare_data(self) -> None:
        """Generate and cache the trajectories once (Lightning calls this on one process)."""
        self.trajectories()

    def trajectories(self) -> np.ndarray:
        """The raw trajectories ``(runs, length, hidden_width)``, read from the cache or generated and cached."""
        cache_file = self.cache_file
        if cache_file is not None and cache_file.exists():
            with np.load(cache_file) as stored:
                if json.loads(str(stored["settings"])) == self.generation_settings:
                    return stored["trajectories"]
        trajectories = generate_weight_trajectories(**self.generation_settings)
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=cache_file.parent, suffix=".npz")
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, trajectories=trajectories, settings=json.dumps(self.generation_settings))
            os.replace(temporary, cache_file)  # atomic: concurrent processes never read a partial file
        return trajectories

    def load_raw(self) -> RawPaths:
        values = self.trajectories()
        num_runs, length, width = values.shape
        times = np.broadcast_to(np.arange(length, dtype=np.float64), (num_runs, length)).copy()
        return RawPaths(times, values, [f"output_weight_{unit}" for unit in range(width)])

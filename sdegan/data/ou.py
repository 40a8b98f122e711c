"""The time-dependent Ornstein-Uhlenbeck dataset of REFERENCE.md section 7 (torchsde's sde_gan example)."""

from __future__ import annotations

from typing import Unpack

import numpy as np

from sdegan.data.datamodule import DataModuleOptions, PathDataModule
from sdegan.data.normaliser import Normaliser
from sdegan.data.raw import STREAM_DATA, STREAM_MISSING, RawPaths, seeded_rng
from sdegan.errors import DataError


def simulate_time_dependent_ou(
    num_paths: int,
    length: int,
    *,
    mu: float = 0.02,
    theta: float = 0.1,
    sigma: float = 0.4,
    simulation_dt: float = 0.1,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Euler-Maruyama paths of the Ito SDE ``dY = (mu t - theta Y) dt + sigma (2 t / length) dW``, ``Y_0 ~ U(-1, 1)``.

    The paths are simulated with step ``simulation_dt`` and observed at ``t = 0, 1, ..., length - 1`` (the
    noise scale uses ``length``, 64 in the reference). ``1 / simulation_dt`` must be an integer.

    Returns:
        ``(times (length,), values (num_paths, length))`` in float64, with no missing entries.
    """
    if num_paths < 1 or length < 2:
        raise DataError(f"need num_paths >= 1 and length >= 2, got num_paths={num_paths}, length={length}")
    substeps = round(1.0 / simulation_dt)
    if simulation_dt <= 0 or abs(substeps * simulation_dt - 1.0) > 1e-9:
        raise DataError(f"simulation_dt must divide the unit observation spacing (e.g. 0.1), got {simulation_dt}")
    y = rng.uniform(-1.0, 1.0, size=num_paths)
    values = np.empty((num_paths, length))
    values[:, 0] = y
    for observation in range(1, length):
        increments = rng.standard_normal((substeps, num_paths)) * np.sqrt(simulation_dt)
        for substep in range(substeps):
            t = (observation - 1) + substep * simulation_dt
            y = y + (mu * t - theta * y) * simulation_dt + sigma * (2.0 * t / length) * increments[substep]
        values[:, observation] = y
    return np.arange(length, dtype=np.float64), values


def drop_entries(values: np.ndarray, missing_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Copy of ``values`` with exactly ``floor(missing_fraction * values.size)`` uniformly chosen entries set to NaN."""
    if not 0.0 <= missing_fraction < 1.0:
        raise DataError(f"missing_fraction must lie in [0, 1), got {missing_fraction}")
    dropped = values.copy()
    flat = dropped.reshape(-1)
    flat[rng.permutation(flat.size)[: int(missing_fraction * flat.size)]] = np.nan
    return dropped


class OUDataModule(PathDataModule):
    """Time-dependent OU paths (REFERENCE.md section 7): 1 channel, times 0..length-1, entries missing at random.

    Normalisation follows the reference: one mean and std from the observed ``t = 0`` values, here of the
    train split only. ``dt`` is 1.0 (the paper's reversible Heun step).

    Arguments:
        num_paths: number of simulated paths (all splits together).
        length: observations per path, at ``t = 0, 1, ..., length - 1``.
        missing_fraction: fraction of all entries set to NaN.
        mu, theta, sigma: SDE parameters.
        simulation_dt: Euler-Maruyama step.
        batch_size, seed, val_fraction, test_fraction, num_workers: :class:`DataModuleOptions`.
    """

    default_batch_size = 1024

    def __init__(
        self,
        *,
        num_paths: int = 8192,
        length: int = 64,
        missing_fraction: float = 0.3,
        mu: float = 0.02,
        theta: float = 0.1,
        sigma: float = 0.4,
        simulation_dt: float = 0.1,
        **options: Unpack[DataModuleOptions],
    ) -> None:
        super().__init__(**options)
        self.num_paths = num_paths
        self.length = length
        self.missing_fraction = missing_fraction
        self.sde_parameters = {"mu": mu, "theta": theta, "sigma": sigma, "simulation_dt": simulation_dt}

    @property
    def description(self) -> str:
        return (
            f"ou dataset (num_paths={self.num_paths}, length={self.length}, "
            f"missing_fraction={self.missing_fraction})"
        )

    def load_raw(self) -> RawPaths:
        times, values = simulate_time_dependent_ou(
            self.num_paths, self.length, rng=seeded_rng(self.seed, STREAM_DATA), **self.sde_parameters
        )
        values = drop_entries(values, self.missing_fraction, seeded_rng(self.seed, STREAM_MISSING))
        return RawPaths(np.broadcast_to(times, values.shape).copy(), values[..., None], ["value"])

    def fit_normaliser(self, train: RawPaths) -> Normaliser:
        """Mean and std of the observed train values at ``t = 0`` (the reference's choice)."""
        return Normaliser.fit(train.values[:, :1], train.channel_names)

"""Per-channel affine normalisation of paths, fitted on the train split and kept for the inverse."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sdegan.errors import DataError


class Normaliser:
    """Maps values to ``(value - mean) / std`` per channel; the time channel (0) is never touched.

    Arguments:
        mean: per-channel means, shape ``(channels,)``, in original units.
        std: per-channel standard deviations, shape ``(channels,)``, all positive.
        channel_names: names of the value channels (for error messages and docs).
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], channel_names: Sequence[str]) -> None:
        mean_array = np.asarray(mean, dtype=np.float64)
        std_array = np.asarray(std, dtype=np.float64)
        if mean_array.shape != std_array.shape or mean_array.ndim != 1:
            raise DataError(f"mean and std must be 1-D of equal length, got {mean_array.shape} and {std_array.shape}")
        if len(channel_names) != len(mean_array):
            raise DataError(f"{len(channel_names)} channel names given for {len(mean_array)} channels")
        for name, m, s in zip(channel_names, mean_array, std_array):
            if not np.isfinite(m) or not np.isfinite(s) or s <= 0:
                raise DataError(
                    f"channel {name!r} cannot be normalised (mean {m}, std {s}): it is constant or has no "
                    "observed values in the train split"
                )
        self.mean = mean_array
        self.std = std_array
        self.channel_names = list(channel_names)

    @classmethod
    def fit(cls, values: np.ndarray, channel_names: Sequence[str]) -> Normaliser:
        """Mean and (unbiased) std of every non-NaN entry of ``values`` ``(paths, length, channels)``."""
        flat = values.reshape(-1, values.shape[-1])
        counts = np.sum(~np.isnan(flat), axis=0)
        mean = np.full(flat.shape[-1], np.nan)
        std = np.full(flat.shape[-1], np.nan)
        for channel, count in enumerate(counts):
            observed = flat[~np.isnan(flat[:, channel]), channel]
            if count >= 2:
                mean[channel] = observed.mean()
                std[channel] = observed.std(ddof=1)
        return cls(mean, std, channel_names)

    @property
    def num_channels(self) -> int:
        """Number of value channels (excluding time)."""
        return len(self.mean)

    def _check(self, paths: torch.Tensor) -> None:
        if paths.shape[-1] != 1 + self.num_channels:
            raise DataError(
                f"expected paths with last dimension 1 + {self.num_channels} (time + channels), "
                f"got shape {tuple(paths.shape)}"
            )

    def transform(self, paths: torch.Tensor) -> torch.Tensor:
        """Normalise the value channels of ``paths (..., 1 + channels)``; returns a new tensor."""
        self._check(paths)
        mean = torch.as_tensor(self.mean, dtype=paths.dtype, device=paths.device)
        std = torch.as_tensor(self.std, dtype=paths.dtype, device=paths.device)
        return torch.cat([paths[..., :1], (paths[..., 1:] - mean) / std], dim=-1)

    def inverse_transform(self, paths: torch.Tensor) -> torch.Tensor:
        """Map normalised ``paths (..., 1 + channels)`` back to original units (time untouched)."""
        self._check(paths)
        mean = torch.as_tensor(self.mean, dtype=paths.dtype, device=paths.device)
        std = torch.as_tensor(self.std, dtype=paths.dtype, device=paths.device)
        return torch.cat([paths[..., :1], paths[..., 1:] * std + mean], dim=-1)

    def state_dict(self) -> dict[str, list]:
        """Plain-Python state (for checkpoints): means, stds and channel names."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "channel_names": list(self.channel_names)}

    @classmethod
    def from_state_dict(cls, state: dict[str, list]) -> Normaliser:
        """Inverse of :meth:`state_dict`."""
        return cls(state["mean"], state["std"], state["channel_names"])

    def __repr__(self) -> str:
        return f"Normaliser(channels={self.channel_names}, mean={self.mean.tolist()}, std={self.std.tolist()})"

"""Small sequence models used by the learned metrics: classifiers and a sequence-to-sequence predictor.

All take standardised, NaN-free paths ``(batch, length, channels)`` (time included as a channel).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from sdegan.errors import ConfigurationError


class GRUClassifier(nn.Module):
    """A GRU over the path; a linear read-out of its final hidden state gives one logit per path."""

    def __init__(self, channels: int, hidden_size: int) -> None:
        super().__init__()
        self.gru = nn.GRU(channels, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, 1)

    def forward(self, paths: Tensor) -> Tensor:
        _, final_hidden = self.gru(paths)
        return self.readout(final_hidden[-1]).squeeze(-1)


class _CDEVectorField(nn.Module):
    """``f(t, z)`` of shape ``(batch, hidden, channels)``: an MLP of the hidden state ending in tanh."""

    def __init__(self, channels: int, hidden_size: int) -> None:
        super().__init__()
        self.channels = channels
        self.hidden_size = hidden_size
        self.net = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.Softplus(),
                                 nn.Linear(hidden_size, hidden_size * channels), nn.Tanh())

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        return self.net(z).view(*z.shape[:-1], self.hidden_size, self.channels)


class CDEClassifier(nn.Module):
    """A neural CDE driven by the linearly interpolated path, solved with ``sdegan.solvers.cdeint``.

    The path is parameterised by observation index (0, 1, ..., length - 1); time enters as a channel
    of the control. The solve outputs at every observation (so fixed-step methods without ``dt``
    take one step per observation, and adaptive ones restart at the kinks of the interpolation);
    the logit reads the final state. ``solve_options`` go to ``cdeint`` (``method``, ``gradient``,
    ``dt``, ``rtol``, ``atol``, ``norm``, ...).
    """

    def __init__(self, channels: int, hidden_size: int, solve_options: Mapping[str, Any]) -> None:
        super().__init__()
        self.initial = nn.Linear(channels, hidden_size)
        self.vector_field = _CDEVectorField(channels, hidden_size)
        self.readout = nn.Linear(hidden_size, 1)
        self.solve_options = dict(solve_options)

    def forward(self, paths: Tensor) -> Tensor:
        import torchcde

        from sdegan.solvers import cdeint

        control = torchcde.LinearInterpolation(torchcde.linear_interpolation_coeffs(paths))
        z0 = self.initial(paths[:, 0])
        zs = cdeint(self.vector_field, z0, control, control.grid_points, **self.solve_options)
        return self.readout(zs[-1]).squeeze(-1)


class GRUPredictor(nn.Module):
    """Sequence-to-sequence predictor: a GRU encodes the observed first part of a path; a second GRU,
    started from that encoding and fed the future times, emits the values at those times."""

    def __init__(self, channels: int, value_channels: int, hidden_size: int) -> None:
        super().__init__()
        self.encoder = nn.GRU(channels, hidden_size, batch_first=True)
        self.decoder = nn.GRU(1, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, value_channels)

    def forward(self, context: Tensor, future_times: Tensor) -> Tensor:
        """``context`` ``(batch, k, channels)``, ``future_times`` ``(batch, length - k, 1)`` ->
        predicted values ``(batch, length - k, value_channels)``."""
        _, encoding = self.encoder(context)
        decoded, _ = self.decoder(future_times, encoding)
        return self.readout(decoded)


class GRUNextStepPredictor(nn.Module):
    """One-step-ahead predictor: at step ``i`` a GRU reads observation ``i`` and the time of
    observation ``i + 1``; a linear read-out of its hidden state gives the values at ``i + 1``."""

    def __init__(self, channels: int, value_channels: int, hidden_size: int) -> None:
        super().__init__()
        self.gru = nn.GRU(channels + 1, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, value_channels)

    def forward(self, history: Tensor, next_times: Tensor) -> Tensor:
        """``history`` ``(batch, length - 1, channels)`` (observations ``0 .. length - 2``),
        ``next_times`` ``(batch, length - 1, 1)`` (times ``1 .. length - 1``) -> predicted values
        ``(batch, length - 1, value_channels)`` at observations ``1 .. length - 1``."""
        hidden, _ = self.gru(torch.cat([history, next_times], dim=-1))
        return self.readout(hidden)


CLASSIFIER_MODELS = ("gru", "cde")


def make_classifier(model: str, channels: int, hidden_size: int,
                    solve_options: Mapping[str, Any] | None) -> nn.Module:
    """Build the classifier called ``model`` (``"gru"`` or ``"cde"``)."""
    if model == "gru":
        return GRUClassifier(channels, hidden_size)
    if model == "cde":
        return CDEClassifier(channels, hidden_size, solve_options or {})
    raise ConfigurationError(f"unknown classifier model {model!r}; valid choices: "
                     f"{', '.join(CLASSIFIER_MODELS)}")


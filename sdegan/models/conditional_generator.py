"""A neural SDE generator of continuations of observed path prefixes (forecasting).

The SDE-GAN generator (:class:`sdegan.models.Generator`: its initial network, vector fields and readout)
with the initial state computed from the observed prefix instead of from noise alone:

    c = (GRU(prefix), last observed values),   x_0 = initial(c, V),  V ~ N(0, I),
    dx = mu(t, x) dt + sigma(t, x) o dW  over the continuation times,   Y_t = readout(x_t).

The prefix enters the GRU gap-filled (:func:`sdegan.paths.fill_missing`, a channel with no observation
in the prefix as 0, the normalised mean) with time measured from the prefix's last observation time,
divided by the span of the model's time grid. docs/signature_kernel.md.
"""

from __future__ import annotations

import torch
from torch import nn

from sdegan.models.generator import Generator, solve_paths
from sdegan.models.solve_options import SolveOptions
from sdegan.paths import fill_missing

__all__ = ["ConditionalGenerator", "fill_missing_or_zero"]


def fill_missing_or_zero(paths: torch.Tensor) -> torch.Tensor:
    """:func:`sdegan.paths.fill_missing`, with a value channel that a path never observes set to 0 first.

    Slices of observed paths (a prefix, a continuation) can miss a channel entirely, which
    ``fill_missing`` cannot fill; 0 is the mean of normalised data.
    """
    values = paths[..., 1:]
    unobserved = torch.isnan(values).all(dim=1, keepdim=True)
    if bool(unobserved.any()):
        first = torch.zeros_like(unobserved).expand(-1, paths.shape[1], -1).clone()
        first[:, 0] = unobserved[:, 0]
        values = values.masked_fill(first, 0.0)
        paths = torch.cat([paths[..., :1], values], dim=-1)
    return fill_missing(paths)


class ConditionalGenerator(nn.Module):
    """Neural SDE continuations of observed prefixes.

    Arguments:
        data_channels: value channels of the paths (time excluded).
        time_scale: the span of the model's time grid (prefix times are divided by it for the encoder).
        encoding_size: GRU state size (the prefix summary).
        initial_noise_size, noise_size, hidden_size, width, depth, activation, initial_scale,
            vector_field_scale: the SDE-GAN generator's (:class:`sdegan.models.Generator`); its initial
            network takes the prefix summary, the last observed values and the noise ``V``.
    """

    def __init__(
        self,
        data_channels: int,
        time_scale: float,
        encoding_size: int = 16,
        initial_noise_size: int = 5,
        noise_size: int = 3,
        hidden_size: int = 16,
        width: int = 16,
        depth: int = 1,
        activation: str = "lipswish",
        initial_scale: float = 3.0,
        vector_field_scale: float = 0.5,
    ) -> None:
        super().__init__()
        self.initial_noise_size = initial_noise_size
        self.time_scale = float(time_scale)
        self.encoder = nn.GRU(1 + data_channels, encoding_size, batch_first=True)
        sde = Generator(data_channels, encoding_size + data_channels + initial_noise_size, noise_size,
                        hidden_size, width, depth, activation, initial_scale, vector_field_scale)
        self.initial, self.vector_field, self.readout = sde.initial, sde.vector_field, sde.readout

    def context(self, prefix: torch.Tensor) -> torch.Tensor:
        """``(GRU summary, last observed values)`` of prefixes ``(n, p, 1 + C)``: ``(n, encoding + C)``."""
        filled = fill_missing_or_zero(prefix)
        time = (filled[..., :1] - filled[:, -1:, :1]) / self.time_scale
        _, state = self.encoder(torch.cat([time, filled[..., 1:]], dim=-1))
        return torch.cat([state[-1], filled[:, -1, 1:]], dim=-1)

    def forward(
        self, prefix: torch.Tensor, times: torch.Tensor, samples_per_prefix: int, solve_options: SolveOptions
    ) -> torch.Tensor:
        """``samples_per_prefix`` continuations of each prefix: ``(n * samples_per_prefix, length, 1 + C)``.

        Arguments:
            prefix: observed prefixes ``(n, p, 1 + C)`` (NaN where missing).
            times: the continuation times, ``(length,)`` shared or ``(n, length)`` per prefix (after the
                prefix's last time); channel 0 of the result.
            samples_per_prefix: continuations drawn per prefix; those of prefix ``j`` are rows
                ``j * samples_per_prefix ...`` of the result.
            solve_options: the run's SDE spec (or a solve-options dict).
        """
        count = prefix.shape[0] * samples_per_prefix
        context = self.context(prefix).repeat_interleave(samples_per_prefix, dim=0)
        noise = torch.randn(count, self.initial_noise_size, device=prefix.device, dtype=prefix.dtype)
        x0 = self.initial(torch.cat([context, noise], dim=-1))
        if times.ndim == 2:
            times = times.repeat_interleave(samples_per_prefix, dim=0)
        return solve_paths(self.vector_field, self.readout, x0, times, solve_options)

"""Latent SDE (Li et al. 2020): a variational autoencoder whose latent is the solution of an SDE.

The posterior SDE ``dz = f(t, z, ctx(t)) dt + g(t, z) o dW`` is driven by a context computed by a GRU
run backwards in time over the observations; the prior SDE ``dz = h(t, z) dt + g(t, z) o dW`` shares
the diffusion. The KL divergence between the two path measures,
``int 0.5 |(f - h) / g|^2 dt`` (Girsanov; with a shared diffusion the Ito and Stratonovich drift
differences coincide), is integrated as one extra state channel with zero diffusion, so it works
with every solver and gradient method of ``sdegan.solvers``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from sdegan import solvers
from sdegan.models.paths import check_paths
from sdegan.models.solve_options import sde_solve_kwargs
from sdegan.nn import MLP
from sdegan.errors import ConfigurationError

__all__ = ["LatentSDEModel", "PosteriorWithKL", "PriorSDE", "masked_gaussian_log_likelihood"]

_MIN_DIFFUSION = 1e-3


class _Dynamics(nn.Module):
    """Posterior drift f(t, z, ctx), prior drift h(t, z) and diagonal diffusion g(t, z).

    The networks see time rescaled to [0, 1] over ``time_span``. Drifts end in tanh and the diffusion
    lies in ``(min, min + 1)``, so latent paths stay bounded over long time spans (with unbounded
    MLPs the prior's samples grew exponentially over the 64 time units of the OU data).
    """

    def __init__(
        self, latent_size: int, context_size: int, width: int, depth: int, activation: str,
        time_span: tuple[float, float],
    ):
        super().__init__()
        t0, t1 = float(time_span[0]), float(time_span[1])
        if not t1 > t0:
            raise ConfigurationError(f"time_span must be increasing, got {time_span}")
        self.time_origin, self.time_scale = t0, 1.0 / (t1 - t0)
        self.posterior_drift = MLP(
            1 + latent_size + context_size, latent_size, width, depth, activation, final_tanh=True
        )
        self.prior_drift = MLP(1 + latent_size, latent_size, width, depth, activation, final_tanh=True)
        self.diffusion = MLP(1 + latent_size, latent_size, width, depth, activation)

    def inputs(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``[rescaled t, z]``, the input of every network."""
        t = (torch.as_tensor(t, dtype=z.dtype, device=z.device) - self.time_origin) * self.time_scale
        return torch.cat([t.expand(z.size(0), 1), z], dim=1)

    def prior(self, tz: torch.Tensor) -> torch.Tensor:
        return self.prior_drift(tz)

    def sigma(self, tz: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.diffusion(tz)) + _MIN_DIFFUSION


def masked_gaussian_log_likelihood(
    values: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
) -> torch.Tensor:
    """Per-path Gaussian log-likelihood ``(batch,)`` summed over the observed (non-NaN) entries only."""
    observed = ~torch.isnan(values)
    log_density = torch.distributions.Normal(mean, std, validate_args=False).log_prob(torch.nan_to_num(values))
    return torch.where(observed, log_density, torch.zeros_like(log_density)).sum(dim=(1, 2))


class PosteriorWithKL(nn.Module):
    """Posterior SDE on ``[z, kl]``: diagonal Stratonovich noise, zero diffusion on the KL channel.

    ``context`` (``(batch, length, context_size)``) and its observation ``times`` are set per batch;
    ``ctx(t)`` is the context of the first observation strictly after ``t`` (clamped to the last),
    i.e. a summary of the data still to come.
    """

    sde_type = "stratonovich"
    noise_type = "diagonal"

    def __init__(self, dynamics: _Dynamics) -> None:
        super().__init__()
        self.dynamics = dynamics
        self.context: torch.Tensor | None = None
        self.times: torch.Tensor | None = None

    def _context_at(self, t: torch.Tensor) -> torch.Tensor:
        if self.context is None or self.times is None:
            raise RuntimeError("PosteriorWithKL.context must be set before solving")
        index = torch.searchsorted(self.times, torch.as_tensor(t).reshape(1).to(self.times), right=True)
        index = index.clamp(max=self.times.numel() - 1)
        return self.context.index_select(1, index).squeeze(1)  # no host sync (int(index) would sync a GPU)

    def f_and_g(self, t: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = y[:, :-1]
        tz = self.dynamics.inputs(t, z)
        posterior = self.dynamics.posterior_drift(torch.cat([tz, self._context_at(t)], dim=1))
        prior = self.dynamics.prior(tz)
        sigma = self.dynamics.sigma(tz)
        kl_rate = 0.5 * ((posterior - prior) / sigma).pow(2).sum(dim=1, keepdim=True)
        drift = torch.cat([posterior, kl_rate], dim=1)
        diffusion = torch.cat([sigma, torch.zeros_like(kl_rate)], dim=1)
        return drift, diffusion

    def f(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.f_and_g(t, y)[0]

    def g(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.f_and_g(t, y)[1]


class PriorSDE(nn.Module):
    """Prior SDE ``dz = h(t, z) dt + g(t, z) o dW`` (diagonal Stratonovich noise) for sampling."""

    sde_type = "stratonovich"
    noise_type = "diagonal"

    def __init__(self, dynamics: _Dynamics) -> None:
        super().__init__()
        self.dynamics = dynamics

    def f_and_g(self, t: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tz = self.dynamics.inputs(t, z)
        return self.dynamics.prior(tz), self.dynamics.sigma(tz)

    def f(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.f_and_g(t, z)[0]

    def g(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.f_and_g(t, z)[1]


class LatentSDEModel(nn.Module):
    """Encoder (backwards GRU), posterior/prior latent SDEs, linear Gaussian decoder.

    Arguments:
        data_channels: value channels of the paths (time excluded).
        latent_size, context_size, hidden_size: latent state, encoder context and GRU sizes.
        width, depth, activation: shape of the drift/diffusion MLPs.
        min_observation_std: floor of the learned per-channel observation standard deviation.
        time_span: first and last time of the data's grid (the networks see time rescaled to [0, 1]).
    """

    def __init__(
        self,
        data_channels: int,
        latent_size: int = 4,
        context_size: int = 16,
        hidden_size: int = 32,
        width: int = 32,
        depth: int = 1,
        activation: str = "softplus",
        min_observation_std: float = 1e-2,
        time_span: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        super().__init__()
        self.data_channels = data_channels
        self.latent_size = latent_size
        self.min_observation_std = min_observation_std
        # GRU input: normalised time, values with gaps zero-filled, observation mask.
        self.encoder = nn.GRU(1 + 2 * data_channels, hidden_size, batch_first=True)
        self.context_readout = nn.Linear(hidden_size, context_size)
        self.initial_posterior = nn.Linear(context_size, 2 * latent_size)
        self.prior_initial_mean = nn.Parameter(torch.zeros(latent_size))
        self.prior_initial_log_std = nn.Parameter(torch.zeros(latent_size))
        self.dynamics = _Dynamics(latent_size, context_size, width, depth, activation, time_span)
        self.posterior = PosteriorWithKL(self.dynamics)
        self.prior = PriorSDE(self.dynamics)
        self.decoder = nn.Linear(latent_size, data_channels)
        self.observation_log_std = nn.Parameter(torch.full((data_channels,), math.log(0.1)))

    def encode(self, paths: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """Context ``(batch, length, context_size)``; entry ``i`` summarises observations ``i..end``."""
        values = paths[..., 1:]
        mask = ~torch.isnan(values)
        span = (times[-1] - times[0]).clamp_min(1e-12)
        time = ((paths[..., :1] - times[0]) / span)
        inputs = torch.cat([time, torch.nan_to_num(values), mask.to(values.dtype)], dim=-1)
        outputs, _ = self.encoder(inputs.flip(1))
        return self.context_readout(outputs.flip(1))

    def observation_std(self) -> torch.Tensor:
        return self.observation_log_std.exp() + self.min_observation_std

    def elbo_terms(
        self, paths: torch.Tensor, times: torch.Tensor, solve_options: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        """Masked Gaussian log-likelihood and KL terms of a batch of paths observed on ``times``.

        Returns batch means of per-path quantities: ``log_likelihood`` (summed over observed entries
        only), ``kl_path`` (posterior vs prior path measures) and ``kl_initial`` (of ``z_0``).
        """
        check_paths(paths, self.data_channels)
        if paths.size(1) != times.numel():
            raise ConfigurationError(
                f"paths have length {paths.size(1)} but the model's time grid has {times.numel()} points"
            )
        context = self.encode(paths, times)
        mean, log_std = self.initial_posterior(context[:, 0]).chunk(2, dim=1)
        z0 = mean + log_std.exp() * torch.randn_like(mean)
        kl_initial = torch.distributions.kl_divergence(
            torch.distributions.Normal(mean, log_std.exp(), validate_args=False),
            torch.distributions.Normal(self.prior_initial_mean, self.prior_initial_log_std.exp(), validate_args=False),
        ).sum(dim=1)
        # The context stays set after the solve: reversible and adjoint backward passes re-evaluate the
        # posterior drift. Call release_context() once the backward pass is done.
        self.posterior.context, self.posterior.times = context, times
        y0 = torch.cat([z0, torch.zeros_like(z0[:, :1])], dim=1)
        # The context is not a parameter of the SDE module: declare it so that adjoint and reversible
        # backward passes propagate gradients into the encoder.
        ys = solvers.sdeint(
            self.posterior, y0, times, adjoint_params=(context,), **sde_solve_kwargs(solve_options)
        )
        zs, kl_path = ys[..., :-1].transpose(0, 1), ys[-1, :, -1]
        predicted = self.decoder(zs)
        log_likelihood = masked_gaussian_log_likelihood(paths[..., 1:], predicted, self.observation_std())
        return {
            "log_likelihood": log_likelihood.mean(),
            "kl_path": kl_path.mean(),
            "kl_initial": kl_initial.mean(),
        }

    def release_context(self) -> None:
        """Drop the batch's encoder context held by the posterior SDE (after the backward pass)."""
        self.posterior.context = self.posterior.times = None

    def sample(
        self, times: torch.Tensor, num_samples: int, solve_options: Mapping[str, Any]
    ) -> torch.Tensor:
        """Paths ``(num_samples, len(times), 1 + C)`` from the prior; values are decoder means."""
        std = self.prior_initial_log_std.exp()
        z0 = self.prior_initial_mean + std * torch.randn(
            num_samples, self.latent_size, device=times.device, dtype=times.dtype
        )
        zs = solvers.sdeint(self.prior, z0, times, **sde_solve_kwargs(solve_options))
        values = self.decoder(zs.transpose(0, 1))
        return torch.cat([times.view(1, -1, 1).expand(num_samples, -1, 1), values], dim=-1)

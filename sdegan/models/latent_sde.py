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

import torch
from torch import nn

from sdegan.models.solve_options import SolveOptions, solve, solve_gradient
from sdegan.nn import MLP
from sdegan.paths import check_paths, read_at_positions, union_of_times
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


class _ReadWithSparseGradient(torch.autograd.Function):
    """Rows of ``context`` ``(length, batch, channels)``: ``context[index[0]]`` for every path when ``batch`` is
    ``None`` (shared times), else ``context[index[b], b]`` for path ``b``; the gradient is sparse, holding only
    the rows read.

    The dense gradient of an indexing op is a zero tensor the size of the whole context with the rows
    filled in; a reversible backward pass adds one such gradient per step, which is quadratic work in the
    path length. This one holds ``batch x channels`` values, so the pass stays linear.
    """

    @staticmethod
    def forward(ctx: Any, context: torch.Tensor, index: torch.Tensor, batch: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(index, batch)
        ctx.context_shape = context.shape
        return _read(context, index, batch)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        index, batch = ctx.saved_tensors
        if batch is None:  # one row of (batch, channels) values: one block to add
            indices, values = index.view(1, 1), grad.unsqueeze(0)
        else:  # one (channels,) row per path
            indices, values = torch.stack([index, batch]), grad
        grad_context = torch.sparse_coo_tensor(indices, values, ctx.context_shape, check_invariants=False)
        return grad_context, None, None


def _read(context: torch.Tensor, index: torch.Tensor, batch: torch.Tensor | None) -> torch.Tensor:
    if batch is None:
        return context.index_select(0, index).squeeze(0)
    return context[index, batch]


class PosteriorWithKL(nn.Module):
    """Posterior SDE on ``[z, kl]`` for one batch: diagonal Stratonovich noise, zero diffusion on the KL
    channel.

    Built per batch from the batch's encoder ``context`` ``(batch, length, context_size)`` and the paths'
    observation ``times`` (``(length,)`` shared, or ``(batch, length)`` per path), and dropped with the
    batch's graph: nothing of a batch stays on the model. ``ctx(t)`` for a path is the context of its first
    observation strictly after ``t`` (clamped to its last), i.e. a summary of the data still to come.

    Arguments:
        dynamics: the drift and diffusion networks (shared with the prior).
        context: the encoder's output for the batch.
        times: the batch's observation times: ``(length,)`` when every path has the same.
        sparse_context_gradient: give the context a sparse gradient (only the rows read at a step); for the
            reversible backward pass, which adds each step's gradient into its total (linear work). Direct
            backpropagation and torchsde's adjoint take the ordinary dense gradient.
    """

    sde_type = "stratonovich"
    noise_type = "diagonal"

    def __init__(
        self, dynamics: _Dynamics, context: torch.Tensor, times: torch.Tensor, sparse_context_gradient: bool
    ) -> None:
        super().__init__()
        self.dynamics = dynamics
        batch, length, _ = context.shape
        #: the context laid out by observation: ``(length, batch, context_size)``, the tensor solves differentiate.
        self.context_by_observation = context.transpose(0, 1)
        if times.ndim == 2:  # rows read per path: adding them into a gradient with these strides is faster
            self.context_by_observation = self.context_by_observation.contiguous()
        self._times = times.contiguous()
        self._batch = None if times.ndim == 1 else torch.arange(batch, device=context.device)
        self._sparse = sparse_context_gradient

    def _context_at(self, t: torch.Tensor) -> torch.Tensor:
        times = self._times
        t = torch.as_tensor(t, dtype=times.dtype, device=times.device).reshape(1, 1)
        query = t.reshape(1) if times.ndim == 1 else t.repeat(times.size(0), 1)
        index = torch.searchsorted(times, query, right=True).reshape(-1).clamp(max=times.size(-1) - 1)
        # No host sync (int(index) would sync a GPU).
        if self._sparse:
            return _ReadWithSparseGradient.apply(self.context_by_observation, index, self._batch)
        return _read(self.context_by_observation, index, self._batch)

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

    Paths may be observed at different times (irregular data): a batch is solved on the union of its
    paths' times (steps of at most ``dt``) and every path is scored, and sampled, at its own times.
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
        self.time_origin, self.time_span = float(time_span[0]), float(time_span[1]) - float(time_span[0])
        self.min_observation_std = min_observation_std
        # GRU input: normalised time, values with gaps zero-filled, observation mask.
        self.encoder = nn.GRU(1 + 2 * data_channels, hidden_size, batch_first=True)
        self.context_readout = nn.Linear(hidden_size, context_size)
        self.initial_posterior = nn.Linear(context_size, 2 * latent_size)
        self.prior_initial_mean = nn.Parameter(torch.zeros(latent_size))
        self.prior_initial_log_std = nn.Parameter(torch.zeros(latent_size))
        self.dynamics = _Dynamics(latent_size, context_size, width, depth, activation, time_span)
        self.prior = PriorSDE(self.dynamics)
        self.decoder = nn.Linear(latent_size, data_channels)
        self.observation_log_std = nn.Parameter(torch.full((data_channels,), math.log(0.1)))

    def encode(self, paths: torch.Tensor) -> torch.Tensor:
        """Context ``(batch, length, context_size)``; entry ``i`` summarises a path's observations ``i..end``
        (times rescaled by ``time_span``, gaps zero-filled, plus the observation mask)."""
        values = paths[..., 1:]
        mask = ~torch.isnan(values)
        time = (paths[..., :1] - self.time_origin) / max(self.time_span, 1e-12)
        inputs = torch.cat([time, torch.nan_to_num(values), mask.to(values.dtype)], dim=-1)
        outputs, _ = self.encoder(inputs.flip(1))
        return self.context_readout(outputs.flip(1))

    def observation_std(self) -> torch.Tensor:
        return self.observation_log_std.exp() + self.min_observation_std

    def elbo_terms(self, paths: torch.Tensor, solve_options: SolveOptions) -> dict[str, torch.Tensor]:
        """Masked Gaussian log-likelihood and KL terms of a batch of paths, each at its own observation times.

        The posterior is solved on the union of the paths' times; each path's decoded latent is scored at
        its own observations, and its path KL is the KL accumulated between its first and last observation.
        Returns batch means of per-path quantities: ``log_likelihood`` (summed over observed entries
        only), ``kl_path`` (posterior vs prior path measures) and ``kl_initial`` (of ``z_0``).
        """
        check_paths(paths, channels=self.data_channels)
        solve_times, positions = union_of_times(paths[..., 0])
        context = self.encode(paths)
        mean, log_std = self.initial_posterior(context[:, 0]).chunk(2, dim=1)
        z0 = mean + log_std.exp() * torch.randn_like(mean)
        kl_initial = torch.distributions.kl_divergence(
            torch.distributions.Normal(mean, log_std.exp(), validate_args=False),
            torch.distributions.Normal(self.prior_initial_mean, self.prior_initial_log_std.exp(), validate_args=False),
        ).sum(dim=1)
        observation_times = solve_times if positions is None else paths[..., 0]
        posterior = PosteriorWithKL(
            self.dynamics, context, observation_times, sparse_context_gradient=solve_gradient(solve_options) == "reversible"
        )
        y0 = torch.cat([z0, torch.zeros_like(z0[:, :1])], dim=1)
        # The context is not a parameter of the SDE module: declare it so that adjoint and reversible
        # backward passes propagate gradients into the encoder.
        ys = solve(solve_options, "sde", posterior, y0, solve_times,
                   adjoint_params=(posterior.context_by_observation,), per_path_times=True)
        at_observations = read_at_positions(ys, positions)
        zs = at_observations[..., :-1]
        kl_path = at_observations[:, -1, -1]  # the KL channel starts at zero at the first solve time
        if positions is not None:  # a path observed later than the batch's first time: only its own span
            kl_path = kl_path - at_observations[:, 0, -1]
        predicted = self.decoder(zs)
        log_likelihood = masked_gaussian_log_likelihood(paths[..., 1:], predicted, self.observation_std())
        return {
            "log_likelihood": log_likelihood.mean(),
            "kl_path": kl_path.mean(),
            "kl_initial": kl_initial.mean(),
        }

    def sample(
        self, times: torch.Tensor, num_samples: int, solve_options: SolveOptions
    ) -> torch.Tensor:
        """Paths ``(num_samples, length, 1 + C)`` from the prior observed at ``times`` (``(length,)`` shared,
        or ``(num_samples, length)`` per path; channel 0 of the result); values are decoder means."""
        std = self.prior_initial_log_std.exp()
        z0 = self.prior_initial_mean + std * torch.randn(
            num_samples, self.latent_size, device=times.device, dtype=times.dtype
        )
        solve_times, positions = union_of_times(times)
        zs = solve(solve_options, "sde", self.prior, z0, solve_times, per_path_times=times.ndim == 2)
        values = self.decoder(read_at_positions(zs, positions))
        time_channel = times.view(-1, times.size(-1), 1).expand(num_samples, -1, 1)
        return torch.cat([time_channel, values], dim=-1)

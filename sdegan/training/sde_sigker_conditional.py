"""Forecasting with a neural SDE trained by the conditional signature-kernel score (Issa et al. 2023).

The generator (:class:`sdegan.models.conditional_generator.ConditionalGenerator`) continues an observed
prefix: its initial state is computed from the prefix, then the SDE is solved over the continuation
times. Every step, for each of ``num_prefixes`` real paths of the batch it draws ``samples_per_prefix``
continuations of that path's prefix and minimises the mean over the paths of the conditional score
``S(P_j, y_j) = E k(X_j, X_j') - 2 E k(X_j, y_j)`` against the path's own real continuation ``y_j``
(:func:`sdegan.models.signature_kernel_score.conditional_signature_kernel_score_terms`).
docs/signature_kernel.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from sdegan.errors import ConfigurationError
from sdegan.models.conditional_generator import ConditionalGenerator, fill_missing_or_zero
from sdegan.models.generator import GeneratorVectorField
from sdegan.models.signature_kernel_score import SignatureKernel, conditional_signature_kernel_score_terms
from sdegan.models.solve_options import solve_spec
from sdegan.random_state import preserved_rng
from sdegan.training.sde_sigker import SignatureKernelScoreModule, optional_size

__all__ = ["SDESigKerConditional", "prefix_points"]


def prefix_points(length: int, prefix_length: int | None, prefix_fraction: float) -> int:
    """Observed points of each path: ``prefix_length``, or ``round(prefix_fraction * length)`` when null.

    Raises:
        ConfigurationError: unless the prefix has at least 1 point and leaves at least 2 to forecast.
    """
    if prefix_length is None:
        if not (isinstance(prefix_fraction, (int, float)) and 0 < prefix_fraction < 1):
            raise ConfigurationError(f"prefix_fraction must be a number in (0, 1), got {prefix_fraction!r}")
        points = round(prefix_fraction * length)
        name = f"prefix_fraction={prefix_fraction} ({points} points)"
    elif not isinstance(prefix_length, int) or isinstance(prefix_length, bool):
        raise ConfigurationError(f"prefix_length must be null or an integer, got {prefix_length!r}")
    else:
        points, name = prefix_length, f"prefix_length={prefix_length}"
    if not 1 <= points <= length - 2:
        raise ConfigurationError(f"{name} must leave an observed prefix of at least 1 point and a continuation "
                                 f"of at least 2 on paths of {length} points: choose 1 to {length - 2} points")
    return points


class SDESigKerConditional(SignatureKernelScoreModule):
    """Neural SDE continuations of observed prefixes, fitted by the conditional signature-kernel score.

    The first ``prefix_length`` observation times of a path are its observed prefix, the rest the
    continuation to forecast. Logged: ``train/loss`` (the score), ``train/self_term``,
    ``train/cross_term``; ``val/score``, ``val/prediction_mse``; ``test/score``, ``test/prediction_mse``
    and ``test/prediction_mse_persistence`` (the last observed value carried forward, for reference).
    ``prediction_mse`` is the mean over the observed continuation entries of the squared error of the
    mean of ``forecast_samples`` sampled continuations, in the data's (normalised) units. The project's test
    metrics (``test/mmd``, ``test/classification``, ...) judge continuations of real paths' own prefixes
    (:meth:`sample_like`).

    Arguments (beyond ``data_channels``, ``times``, ``solve_options`` given by the entry point):
        prefix_length: observed points per path (``null``: ``round(prefix_fraction * length)``).
        prefix_fraction: the observed fraction of the times when ``prefix_length`` is null.
        encoding_size: the prefix encoder's (GRU) state size.
        activation, initial_noise_size, noise_size, hidden_size, width, depth, initial_scale,
            vector_field_scale: the generator, as in the SDE-GAN.
        kernel_backend, static_kernel, bandwidth, dyadic_order, signature_depth, max_pairs: the signature
            kernel, as in ``model=sde_sigker`` (time mapped onto [0, 1] over the continuation's span).
        samples_per_prefix: continuations drawn per prefix in the score (``m >= 2``).
        num_prefixes: real paths of the batch scored per step (``null`` = the whole batch).
        forecast_samples: continuations averaged per prefix for ``prediction_mse``.
        value_scale, lr, weight_decay, divergence_threshold: as in ``model=sde_sigker``.
    """

    RESUMABLE_HYPERPARAMETERS = ("lr", "weight_decay", "divergence_threshold")

    def __init__(
        self,
        data_channels: int,
        times: Sequence[float] | torch.Tensor,
        solve_options: Mapping[str, Any],
        prefix_length: int | None = None,
        prefix_fraction: float = 0.5,
        encoding_size: int = 16,
        activation: str = "lipswish",
        initial_noise_size: int = 5,
        noise_size: int = 3,
        hidden_size: int = 16,
        width: int = 16,
        depth: int = 1,
        initial_scale: float = 3.0,
        vector_field_scale: float = 0.5,
        kernel_backend: str = "pysiglib",
        static_kernel: str = "rbf",
        bandwidth: float = 1.0,
        dyadic_order: int = 0,
        signature_depth: int = 4,
        max_pairs: int = 1024,
        samples_per_prefix: int = 4,
        num_prefixes: int | None = 32,
        forecast_samples: int = 16,
        value_scale: float | str = "auto",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        divergence_threshold: float | None = 1e6,
    ) -> None:
        super().__init__(times, solve_options, divergence_threshold, data_channels, value_scale)
        self.prefix_length = prefix_points(self.times.numel(), prefix_length, prefix_fraction)
        self.samples_per_prefix = optional_size(samples_per_prefix, "samples_per_prefix", 2)
        self.num_prefixes = optional_size(num_prefixes, "num_prefixes", 1)
        self.forecast_samples = optional_size(forecast_samples, "forecast_samples", 1)
        continuation_times = self.times[self.prefix_length:]
        self.kernel = SignatureKernel(
            time_span=(float(continuation_times[0]), float(continuation_times[-1])), backend=kernel_backend,
            static_kernel=static_kernel, bandwidth=bandwidth, dyadic_order=dyadic_order,
            depth=signature_depth, max_pairs=max_pairs,
        )
        self.save_hyperparameters(ignore=["times", "solve_options"])
        self.hparams["times"] = self.times.tolist()
        self.hparams["solve_options"] = dict(self.solve_options)
        self.generator = ConditionalGenerator(
            data_channels, float(self.times[-1] - self.times[0]), encoding_size, initial_noise_size, noise_size,
            hidden_size, width, depth, activation, initial_scale, vector_field_scale,
        )
        self.generator_options = solve_spec("sde", self.solve_options, continuation_times, GeneratorVectorField)
        self._count_evaluations({"generator": self.generator.vector_field.drift})

    # ---------------------------------------------------------------- forecasts
    def _check_length(self, paths: torch.Tensor) -> None:
        if paths.ndim != 3 or paths.shape[1] != self.times.numel():
            raise ConfigurationError(f"paths to continue must be (batch, {self.times.numel()}, channels) like the "
                                     f"training paths, got {tuple(paths.shape)}")

    def forecast(self, paths: torch.Tensor, samples_per_prefix: int) -> torch.Tensor:
        """Continuations of the prefixes of ``paths`` ``(n, length, 1 + C)`` at those paths' own continuation
        times: ``(n * samples_per_prefix, length - prefix_length, 1 + C)``, path ``j``'s in rows
        ``j * samples_per_prefix ...`` (only the prefix of ``paths`` is read)."""
        self._check_length(paths)
        prefix, continuation = paths[:, : self.prefix_length], paths[:, self.prefix_length:]
        return self.generator(prefix, continuation[..., 0], samples_per_prefix, self.generator_options)

    def sample_like(self, real: torch.Tensor) -> torch.Tensor:
        """Each real path's observed prefix (gaps filled) followed by one generated continuation at its times.

        Complete paths, like every model's samples: given ``real``'s missing-value pattern
        (:func:`sdegan.paths.apply_missing_pattern`), the prefix is ``real``'s own.
        """
        continuations = torch.cat([self.forecast(chunk, 1) for chunk in real.split(1024)])
        prefix = fill_missing_or_zero(real[:, : self.prefix_length])
        return torch.cat([prefix, continuations.to(real.dtype)], dim=1)

    def _sample_batch(self, num_samples: int, times: torch.Tensor) -> torch.Tensor:
        raise ConfigurationError("model=sde_sigker_conditional only continues observed prefixes, it cannot draw "
                                 "paths without one: use sample_like(real_paths) or forecast(real_paths, m)")

    # ---------------------------------------------------------------- score and metrics
    def score(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(score, E k(X, X'), E k(X, y))``: the conditional score of fresh continuations of a real batch."""
        if self.num_prefixes is not None:
            real = real[: self.num_prefixes]
        generated = self.forecast(real, self.samples_per_prefix)
        self.divergence_guard.watch("generated samples", generated[..., 1:])
        self_term, cross_term = conditional_signature_kernel_score_terms(
            self._scaled(generated), self._scaled(real[:, self.prefix_length:]), self.kernel
        )
        return self_term - 2.0 * cross_term, self_term, cross_term

    def prediction_errors(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean squared error of the mean forecast, of the last observed value)`` on ``real``'s observed
        continuation entries, the forecast the mean of ``forecast_samples`` continuations per path."""
        continuation = real[:, self.prefix_length:, 1:]
        samples = self.forecast(real, self.forecast_samples)[..., 1:]
        mean = samples.view(real.shape[0], self.forecast_samples, *continuation.shape[1:]).mean(1)
        last = fill_missing_or_zero(real[:, : self.prefix_length])[:, -1:, 1:]
        return (mean - continuation).square().nanmean(), (last - continuation).square().nanmean()

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self.log("val/score", self.score(batch)[0], prog_bar=True, sync_dist=True)
        self.log("val/prediction_mse", self.prediction_errors(batch)[0], sync_dist=True)

    def test_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        with preserved_rng():
            self.log("test/score", self.score(batch)[0], sync_dist=True)
            forecast_error, persistence_error = self.prediction_errors(batch)
        self.log("test/prediction_mse", forecast_error, sync_dist=True)
        self.log("test/prediction_mse_persistence", persistence_error, sync_dist=True)

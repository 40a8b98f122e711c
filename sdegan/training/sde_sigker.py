"""The SDE-GAN's neural-SDE generator trained by the signature-kernel score (Issa et al. 2023).

No discriminator: every step samples paths from the generator and minimises the batch estimate of the
expected signature-kernel score of the real batch, ``E k(X, X') - 2 E k(X, y)``
(:func:`sdegan.models.signature_kernel_score.signature_kernel_score`), a strictly proper scoring rule,
so there is no adversarial game, clipping or gradient penalty. docs/signature_kernel.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from sdegan.errors import ConfigurationError
from sdegan.metrics.signature_mmd import auto_scale
from sdegan.models import Generator
from sdegan.models.generator import GeneratorVectorField
from sdegan.models.signature_kernel_score import SignatureKernel, signature_kernel_score_terms
from sdegan.models.solve_options import solve_spec
from sdegan.random_state import preserved_rng
from sdegan.training.base import NeuralSDEModule

__all__ = ["SDESigKer", "SignatureKernelScoreModule", "optional_size"]


def optional_size(value: int | None, name: str, minimum: int) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < minimum):
        raise ConfigurationError(f"{name} must be null or an integer >= {minimum}, got {value!r}")
    return value


class SignatureKernelScoreModule(NeuralSDEModule):
    """What the signature-kernel-score modules share: the value scale before the kernel, the training step
    (minimise :meth:`score`, logging ``train/loss``, ``train/self_term``, ``train/cross_term``) and Adam.

    ``value_scale``: factor on the value channels before the kernel, or ``"auto"``: 1 / std of each
    channel, fixed at the first training batch (buffers ``value_scale``/``value_scale_set``, kept in
    checkpoints). Subclasses build ``self.kernel`` and their generator and save their hyperparameters
    (``lr`` and ``weight_decay`` among them).
    """

    def __init__(
        self,
        times: Sequence[float] | torch.Tensor,
        solve_options: Mapping[str, Any],
        divergence_threshold: float | None,
        data_channels: int,
        value_scale: float | str,
    ) -> None:
        if not (value_scale == "auto" or (isinstance(value_scale, (int, float)) and value_scale > 0)):
            raise ConfigurationError(f"value_scale must be 'auto' or a positive number, got {value_scale!r}")
        super().__init__(times, solve_options, divergence_threshold)
        # Factors multiplying the value channels of real and generated paths before the kernel; with
        # "auto", set from the first training batch (1 / std per channel) and saved in checkpoints.
        fixed = value_scale != "auto"
        self.register_buffer("value_scale", torch.full((data_channels,), float(value_scale) if fixed else 1.0))
        # A float flag (1 = set), so data-parallel buffer broadcasts handle it on every backend.
        self.register_buffer("value_scale_set", torch.tensor(1.0 if fixed else 0.0))
        self._value_scale_known = fixed

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    def _scaled(self, paths: torch.Tensor) -> torch.Tensor:
        return torch.cat([paths[..., :1], paths[..., 1:] * self.value_scale.to(paths.dtype)], dim=-1)

    def _set_value_scale(self, real: torch.Tensor) -> None:
        # The Python flag spares a device-to-host read of the buffer on every step once the scale is known.
        if self._value_scale_known or float(self.value_scale_set) == 1.0:
            self._value_scale_known = True
            return
        factors = auto_scale(real)[1:]  # 1 / std of each value channel (gaps filled)
        self.value_scale.copy_(torch.tensor(factors, dtype=self.value_scale.dtype))
        self.value_scale_set.fill_(1.0)
        self._value_scale_known = True

    def score(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(score, self term, cross term)`` of fresh samples against a real batch (the training loss first)."""
        raise NotImplementedError

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        self._set_value_scale(batch)
        loss, self_term, cross_term = self.score(batch)
        self.divergence_guard.watch("signature-kernel score", loss)
        self.log("train/loss", loss.detach(), on_step=True, prog_bar=True)
        self.log("train/self_term", self_term.detach(), on_step=True)
        self.log("train/cross_term", cross_term.detach(), on_step=True)
        return loss


class SDESigKer(SignatureKernelScoreModule):
    """Neural SDE generator (:class:`sdegan.models.Generator`) fitted by the signature-kernel score.

    One training step: draw ``num_generated`` paths (the run's solver, gradient and Brownian options;
    reversible Heun with reversible gradients by default), give them the missing-value pattern of the
    real batch, and take one Adam step on
    ``score = mean_{i != i'} k(x_i, x_i') - 2 mean_{i, j} k(x_i, y_j)`` over the first
    ``self_batch_size`` / ``cross_batch_size`` generated paths and the first ``real_batch_size`` real
    paths of the batch (``null`` = all). Logged: ``train/loss`` (the score), ``train/self_term``,
    ``train/cross_term``; ``val/score`` and ``test/score`` on the validation/test batches.

    Arguments (beyond ``data_channels``, ``times``, ``solve_options`` given by the entry point):
        activation, initial_noise_size, noise_size, hidden_size, width, depth, initial_scale,
            vector_field_scale: the generator, as in the SDE-GAN.
        kernel_backend: ``"pysiglib"`` (PDE signature kernel) or ``"signatory"`` (truncated, linear).
        static_kernel: ``"rbf"`` or ``"linear"``; bandwidth: the RBF length scale (paths have time on
            ``[0, 1]`` and normalised values); dyadic_order: PDE grid refinement; depth: truncation depth
            (signatory); max_pairs: most path pairs per kernel call (the memory bound).
        num_generated: generated paths per step (``null`` = as many as the real batch).
        self_batch_size, cross_batch_size, real_batch_size: the sample sizes of the two expectations.
        value_scale: factor on the value channels before the kernel, or ``"auto"``: 1 / std of each
            channel, fixed at the first training batch (kept in checkpoints).
        lr, weight_decay: Adam.
        divergence_threshold: training stops when the score or a generated sample exceeds it in absolute
            value; any NaN/inf stops it too (``None``: finiteness only).
    """

    RESUMABLE_HYPERPARAMETERS = ("lr", "weight_decay", "divergence_threshold")

    def __init__(
        self,
        data_channels: int,
        times: Sequence[float] | torch.Tensor,
        solve_options: Mapping[str, Any],
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
        num_generated: int | None = 32,
        self_batch_size: int | None = None,
        cross_batch_size: int | None = None,
        real_batch_size: int | None = 32,
        value_scale: float | str = "auto",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        divergence_threshold: float | None = 1e6,
    ) -> None:
        super().__init__(times, solve_options, divergence_threshold, data_channels, value_scale)
        self.num_generated = optional_size(num_generated, "num_generated", 2)
        self.self_batch_size = optional_size(self_batch_size, "self_batch_size", 2)
        self.cross_batch_size = optional_size(cross_batch_size, "cross_batch_size", 1)
        self.real_batch_size = optional_size(real_batch_size, "real_batch_size", 1)
        self.kernel = SignatureKernel(
            time_span=(float(self.times[0]), float(self.times[-1])), backend=kernel_backend,
            static_kernel=static_kernel, bandwidth=bandwidth, dyadic_order=dyadic_order,
            depth=signature_depth, max_pairs=max_pairs,
        )
        self.save_hyperparameters(ignore=["times", "solve_options"])
        self.hparams["times"] = self.times.tolist()
        self.hparams["solve_options"] = dict(self.solve_options)
        self.generator = Generator(
            data_channels, initial_noise_size, noise_size, hidden_size, width, depth, activation,
            initial_scale, vector_field_scale,
        )
        self.generator_options = solve_spec("sde", self.solve_options, self.times, GeneratorVectorField)
        self._count_evaluations({"generator": self.generator.vector_field.drift})

    def _sample_batch(self, num_samples: int, times: torch.Tensor) -> torch.Tensor:
        return self.generator(times, num_samples, self.generator_options)

    def score(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(score, E k(X, X'), E k(X, y))`` of freshly generated paths against a real batch."""
        if self.real_batch_size is not None:
            real = real[: self.real_batch_size]
        count = real.size(0) if self.num_generated is None else self.num_generated
        times = real[torch.arange(count, device=real.device) % real.size(0), :, 0]  # the real paths' own times
        generated = self.generator(times, count, self.generator_options)
        self.divergence_guard.watch("generated samples", generated[..., 1:])
        generated = self._scaled(generated)
        real = self._scaled(real)
        self_term, cross_term = signature_kernel_score_terms(
            generated, real, self.kernel,
            self_batch_size=self.self_batch_size, cross_batch_size=self.cross_batch_size,
        )
        return self_term - 2.0 * cross_term, self_term, cross_term

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self.log("val/score", self.score(batch)[0], prog_bar=True, sync_dist=True)

    def test_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        with preserved_rng():
            self.log("test/score", self.score(batch)[0], sync_dist=True)

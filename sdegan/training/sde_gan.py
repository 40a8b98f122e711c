"""SDE-GAN training (Kidger et al. 2021) with the clipped recipe or the gradient-penalty baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from sdegan.models import Discriminator, Generator, index_step
from sdegan.models.solve_options import solve_spec
from sdegan.nn import clip_linear_weights
from sdegan.training.base import NeuralSDEModule
from sdegan.random_state import preserved_rng
from sdegan.errors import ConfigurationError

__all__ = ["SDEGAN", "LIPSCHITZ_METHODS"]

LIPSCHITZ_METHODS = ("clip", "gradient_penalty")
_DEFAULT_ACTIVATION = {"clip": "lipswish", "gradient_penalty": "softplus"}


def user_network(config: Mapping[str, Any], key: str, **sizes: int) -> nn.Module:
    """Instantiate a user's network from its ``_target_`` config, with the ``sizes`` it must fit."""
    from hydra.utils import instantiate

    if not isinstance(config, Mapping) or "_target_" not in config:
        raise ConfigurationError(f"{key} must be a mapping with a _target_ (your class), got {config!r}")
    network = instantiate(config, **sizes)
    if not isinstance(network, nn.Module):
        raise ConfigurationError(
            f"{key}: {config['_target_']} returned a {type(network).__name__}, not a torch.nn.Module"
        )
    return network


def _frozen_average(module: nn.Module) -> AveragedModel:
    averaged = AveragedModel(module)
    for parameter in averaged.parameters():
        parameter.requires_grad_(False)
    return averaged


class SDEGAN(NeuralSDEModule):
    """Wasserstein GAN with a neural SDE generator and a neural CDE discriminator.

    One training step is one batch. ``lipschitz="clip"`` (the paper's recipe): one backward pass of
    ``mean D(fake) - mean D(real)`` per step, the generator's gradients negated, one optimiser step
    for both networks, then every discriminator ``Linear`` weight clamped to ``[-1/out, 1/out]``.
    ``lipschitz="gradient_penalty"`` (WGAN-GP baseline): out of every ``critic_steps + 1`` steps,
    ``critic_steps`` update the discriminator with the penalty
    ``gradient_penalty_weight * (|grad_Y D(Y_interp)| - 1)^2`` on random interpolates of real and
    generated paths (a double backward through the CDE solve, backpropagated directly), and
    one updates the generator. Under DDP this mode leaves one network unused per step: use
    ``trainer.strategy=ddp_find_unused_parameters_true``.

    A single Adadelta optimiser holds both networks as two parameter groups (learning rates
    ``generator_lr`` / ``discriminator_lr``, both ``weight_decay``), so ``trainer.max_steps`` counts
    batches. From ``swa_start`` steps on (``None`` disables it), both networks are averaged with equal
    weights (:class:`torch.optim.swa_utils.AveragedModel`); validation, :meth:`sample` and saved
    checkpoints then use/hold the averages.

    The real train paths reach the discriminator only as interpolation coefficients (missing values filled),
    so the datamodule serves them filled once for the whole split (``TAKES_FILLED_TRAIN_PATHS``).

    The generator always samples at the observation times of the real paths it is compared with
    (each batch's own, which differ per path for irregular data), so time alone never tells real from
    generated; ``times`` (the datamodule's generation grid) is what :meth:`sample` uses by default.

    Arguments (beyond ``data_channels``, ``times``, ``solve_options`` given by the entry point):
        lipschitz: ``"clip"`` or ``"gradient_penalty"``.
        activation: MLP activation; ``None`` = ``lipswish`` (clip) / ``softplus`` (gradient penalty).
        initial_noise_size, noise_size, hidden_size, width, depth: network sizes (both networks
            share ``hidden_size``, ``width``, ``depth``).
        initial_scale, vector_field_scale: the generator's initialisation scaling.
        divergence_threshold: training stops (:class:`~sdegan.training.errors.NonFiniteLossError`)
            when a loss or a generated (normalised) value exceeds it in absolute value; any NaN/inf
            loss, sample or gradient stops it too. ``None``: finiteness only.
        generator_vector_field: your own generator SDE, a config with ``_target_`` (a class or function)
            and its own arguments, called with ``hidden_size=`` and ``noise_size=`` as well; it returns a
            torchsde-style module (``sde_type``, ``noise_type``, ``f(t, x)``, ``g(t, x)`` of shape
            ``(batch, hidden_size, noise_size)``). Replaces the default MLP drift/diffusion (docs/conveniences.md).
        discriminator_vector_field: your own CDE vector field for the discriminator, a config with ``_target_``
            called with ``hidden_size=`` and ``path_channels=`` (``1 + data_channels``) as well; ``forward(t, h)``
            returns ``(batch, hidden_size, path_channels)``. Weight clipping (``lipschitz="clip"``) applies to
            its ``Linear`` layers like to the default's.
    """

    TAKES_FILLED_TRAIN_PATHS = True

    def __init__(
        self,
        data_channels: int,
        times: Sequence[float] | torch.Tensor,
        solve_options: Mapping[str, Any],
        lipschitz: str = "clip",
        activation: str | None = None,
        initial_noise_size: int = 5,
        noise_size: int = 3,
        hidden_size: int = 16,
        width: int = 16,
        depth: int = 1,
        initial_scale: float = 3.0,
        vector_field_scale: float = 0.5,
        generator_lr: float = 2e-4,
        discriminator_lr: float = 1e-3,
        weight_decay: float = 0.01,
        swa_start: int | None = 5000,
        critic_steps: int = 5,
        gradient_penalty_weight: float = 10.0,
        divergence_threshold: float | None = 1e6,
        generator_vector_field: Mapping[str, Any] | None = None,
        discriminator_vector_field: Mapping[str, Any] | None = None,
    ) -> None:
        if lipschitz not in LIPSCHITZ_METHODS:
            raise ConfigurationError(f"unknown lipschitz={lipschitz!r}; valid choices: {list(LIPSCHITZ_METHODS)}")
        if critic_steps < 1:
            raise ConfigurationError(f"critic_steps must be >= 1, got {critic_steps}")
        super().__init__(times, solve_options, divergence_threshold)
        self.save_hyperparameters(ignore=["times", "solve_options"])
        self.hparams["times"] = self.times.tolist()
        self.hparams["solve_options"] = dict(self.solve_options)
        self.automatic_optimization = False
        self.lipschitz = lipschitz
        activation = activation or _DEFAULT_ACTIVATION[lipschitz]
        self.generator = Generator(
            data_channels, initial_noise_size, noise_size, hidden_size, width, depth, activation,
            initial_scale, vector_field_scale,
        )
        self.discriminator = Discriminator(data_channels, hidden_size, width, depth, activation)
        if generator_vector_field is not None:
            self.generator.vector_field = user_network(
                generator_vector_field, "model.generator_vector_field", hidden_size=hidden_size, noise_size=noise_size
            )
        if discriminator_vector_field is not None:
            self.discriminator.vector_field = user_network(
                discriminator_vector_field, "model.discriminator_vector_field", hidden_size=hidden_size,
                path_channels=1 + data_channels,
            )
        # Every solve of the run, validated and gridded once (an invalid combination is refused here).
        self.generator_options = solve_spec("sde", self.solve_options, self.times, self.generator.vector_field)
        index_interval = torch.tensor([0.0, len(self.times) - 1.0])  # the discriminator's path is in index units
        discriminator_options = {**self.solve_options, "dt": index_step(self.times, self.solve_options.get("dt"))}
        self.discriminator_options = solve_spec("cde", discriminator_options, index_interval)
        # The gradient penalty differentiates the score twice: direct backpropagation.
        penalty_options = {**discriminator_options, "gradient": "direct", "norm": None}
        self.penalty_options = solve_spec("cde", penalty_options, index_interval)
        self.averaged_generator = _frozen_average(self.generator)
        self.averaged_discriminator = _frozen_average(self.discriminator)
        # After the averages are copied, so the copies carry no counting hooks.
        # (The default generator field's drift network runs once per evaluation; a user's field may have none.)
        generator_field = self.generator.vector_field
        self._count_evaluations({
            "generator": getattr(generator_field, "drift", generator_field),
            "discriminator": self.discriminator.vector_field,
        })

    # ---------------------------------------------------------------- evaluation networks
    @property
    def averaging_started(self) -> bool:
        return int(self.averaged_generator.n_averaged) > 0

    def evaluation_generator(self) -> Generator:
        """The SWA-averaged generator once averaging has started, else the trained one."""
        return self.averaged_generator.module if self.averaging_started else self.generator

    def evaluation_discriminator(self) -> Discriminator:
        """The SWA-averaged discriminator once averaging has started, else the trained one."""
        return self.averaged_discriminator.module if self.averaging_started else self.discriminator

    def _sample_batch(self, num_samples: int, times: torch.Tensor) -> torch.Tensor:
        return self.evaluation_generator()(times, num_samples, self.generator_options)

    # ---------------------------------------------------------------- training
    RESUMABLE_HYPERPARAMETERS = ("generator_lr", "discriminator_lr", "weight_decay", "divergence_threshold")

    def _apply_optimiser_hyperparameters(self) -> None:
        hp = self.hparams
        generator_group, discriminator_group = self.optimizers(use_pl_optimizer=False).param_groups
        generator_group["lr"], discriminator_group["lr"] = hp.generator_lr, hp.discriminator_lr
        for group in (generator_group, discriminator_group):
            group["weight_decay"] = hp.weight_decay

    def configure_optimizers(self) -> torch.optim.Optimizer:
        hp = self.hparams
        return torch.optim.Adadelta(
            [
                {"params": self.generator.parameters(), "lr": hp.generator_lr},
                {"params": self.discriminator.parameters(), "lr": hp.discriminator_lr},
            ],
            weight_decay=hp.weight_decay,
        )

    def _wasserstein(self, fake: torch.Tensor, real: torch.Tensor, discriminator: Discriminator) -> torch.Tensor:
        return discriminator.wasserstein(fake, real, self.discriminator_options)  # one solve of both batches

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        optimizer = self.optimizers()
        step = self.global_step
        optimizer.zero_grad(set_to_none=True)
        with self.divergence_guard.explaining_failures(step):
            if self.lipschitz == "clip":
                loss = self._clipped_backward(batch)
            elif step % (self.hparams.critic_steps + 1) < self.hparams.critic_steps:
                loss = self._critic_backward(batch)
            else:
                loss = self._generator_backward(batch)
        self.divergence_guard.watch_gradients(self.parameters())
        self.divergence_guard.check(step)
        optimizer.step()
        if self.lipschitz == "clip":
            clip_linear_weights(self.discriminator)
        swa_start = self.hparams.swa_start
        if swa_start is not None and self.global_step >= swa_start:
            self.averaged_generator.update_parameters(self.generator)
            self.averaged_discriminator.update_parameters(self.discriminator)
        return loss.detach()

    def _clipped_backward(self, real: torch.Tensor) -> torch.Tensor:
        fake = self.generator(real[..., 0], real.size(0), self.generator_options)
        self.divergence_guard.watch("generated samples", fake[..., 1:])
        loss = self._wasserstein(fake, real, self.discriminator)
        self.divergence_guard.watch("SDE-GAN loss D(fake) - D(real)", loss)
        self.manual_backward(loss)
        generator_grads = [parameter.grad for parameter in self.generator.parameters() if parameter.grad is not None]
        torch._foreach_neg_(generator_grads)  # one fused op for every parameter
        self.log("train/loss", loss.detach(), on_step=True, prog_bar=True)
        return loss

    def _critic_backward(self, real: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            fake = self.generator(real[..., 0], real.size(0), self.generator_options)
        self.divergence_guard.watch("generated samples", fake[..., 1:])
        discriminator = self.discriminator
        real_coeffs, fake_coeffs = discriminator.coefficients(real), discriminator.coefficients(fake)
        wasserstein = discriminator.mean_score_difference(fake_coeffs, real_coeffs, self.discriminator_options)
        penalty = self.gradient_penalty(real_coeffs, fake_coeffs)
        loss = wasserstein + self.hparams.gradient_penalty_weight * penalty
        self.divergence_guard.watch("critic loss", loss)
        self.manual_backward(loss)
        for parameter in self.generator.parameters():
            parameter.grad = None
        self.log("train/loss", wasserstein.detach(), on_step=True, prog_bar=True)
        self.log("train/gradient_penalty", penalty.detach(), on_step=True)
        return loss

    def _generator_backward(self, real: torch.Tensor) -> torch.Tensor:
        fake = self.generator(real[..., 0], real.size(0), self.generator_options)
        self.divergence_guard.watch("generated samples", fake[..., 1:])
        loss = -self.discriminator(fake, self.discriminator_options).mean()
        self.divergence_guard.watch("generator loss -D(fake)", loss)
        self.manual_backward(loss)
        for parameter in self.discriminator.parameters():
            parameter.grad = None
        self.log("train/generator_loss", loss.detach(), on_step=True)
        return loss

    def gradient_penalty(self, real_coeffs: torch.Tensor, fake_coeffs: torch.Tensor) -> torch.Tensor:
        """``mean (|grad_Y D(Y)| - 1)^2`` at ``Y = a real + (1 - a) fake``, ``a ~ U(0, 1)`` per path.

        The gradient is taken with respect to the interpolation coefficients of the value channels (time
        is the same in real and generated paths, so it is not penalised) with ``create_graph=True``, so
        the penalty is differentiable in the parameters.
        """
        alpha = torch.rand(real_coeffs.size(0), 1, 1, device=real_coeffs.device, dtype=real_coeffs.dtype)
        interpolates = (alpha * real_coeffs + (1 - alpha) * fake_coeffs).detach().requires_grad_(True)
        # Reversible and adjoint backward passes are not themselves differentiable, so this solve is
        # always backpropagated directly (same method and step), making the double backward exact.
        scores = self.discriminator.score(interpolates, self.penalty_options)
        (gradient,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
        return (gradient[..., 1:].flatten(1).norm(dim=1) - 1).pow(2).mean()

    # ---------------------------------------------------------------- validation / test
    def _evaluation_loss(self, real: torch.Tensor) -> torch.Tensor:
        fake = self.evaluation_generator()(real[..., 0], real.size(0), self.generator_options)
        return self._wasserstein(fake, real, self.evaluation_discriminator())

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self.log("val/loss", self._evaluation_loss(batch), prog_bar=True, sync_dist=True)

    def test_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        with preserved_rng():
            self.log("test/loss", self._evaluation_loss(batch), sync_dist=True)

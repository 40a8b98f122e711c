"""Latent-SDE training: maximise the ELBO with KL annealing, Adam and exponential learning-rate decay."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from sdegan.models import LatentSDEModel
from sdegan.models.latent_sde import PriorSDE
from sdegan.models.solve_options import solve_spec
from sdegan.training.base import NeuralSDEModule
from sdegan.random_state import preserved_rng
from sdegan.errors import ConfigurationError

__all__ = ["LatentSDE"]


class LatentSDE(NeuralSDEModule):
    """Latent SDE (Li et al. 2020) as a LightningModule.

    Loss per step: ``-(log_likelihood - beta * (kl_path + kl_initial))`` with ``beta`` rising linearly
    from ``kl_anneal_start`` to 1 over ``kl_anneal_steps`` steps (0 = no annealing). Logged:
    ``train/loss``, ``train/elbo`` (un-annealed), ``train/log_likelihood``, ``train/kl``,
    ``train/kl_weight``; ``val/elbo``. The likelihood is taken at each path's own observation times.
    :meth:`sample` draws from the prior (decoder means).

    Arguments (beyond ``data_channels``, ``times``, ``solve_options`` given by the entry point):
        latent_size, context_size, hidden_size, width, depth, activation: network sizes.
        lr, lr_decay: Adam learning rate, multiplied by ``lr_decay`` after every step.
        divergence_threshold: training stops (:class:`~sdegan.training.errors.NonFiniteLossError`)
            when the loss exceeds it in absolute value; any NaN/inf loss or gradient stops it too.
            ``None``: finiteness only.
    """

    def __init__(
        self,
        data_channels: int,
        times: Sequence[float] | torch.Tensor,
        solve_options: Mapping[str, Any],
        latent_size: int = 4,
        context_size: int = 16,
        hidden_size: int = 32,
        width: int = 32,
        depth: int = 1,
        activation: str = "softplus",
        lr: float = 1e-2,
        lr_decay: float = 0.997,
        kl_anneal_steps: int = 1000,
        kl_anneal_start: float = 0.0,
        divergence_threshold: float | None = 1e6,
    ) -> None:
        if kl_anneal_steps < 0 or not 0.0 <= kl_anneal_start <= 1.0:
            raise ConfigurationError(
                f"need kl_anneal_steps >= 0 and 0 <= kl_anneal_start <= 1, got {kl_anneal_steps}, "
                f"{kl_anneal_start}"
            )
        super().__init__(times, solve_options, divergence_threshold)
        self.save_hyperparameters(ignore=["times", "solve_options"])
        self.hparams["times"] = self.times.tolist()
        self.hparams["solve_options"] = dict(self.solve_options)
        self.latent_options = solve_spec("sde", self.solve_options, self.times, PriorSDE)  # refused here if invalid
        self.model = LatentSDEModel(
            data_channels, latent_size, context_size, hidden_size, width, depth, activation,
            time_span=(float(self.times[0]), float(self.times[-1])),
        )
        self._count_evaluations({"latent": self.model.dynamics.diffusion})

    def kl_weight(self) -> float:
        """The annealed weight ``beta`` of the KL terms at the current step."""
        steps = self.hparams.kl_anneal_steps
        if steps == 0:
            return 1.0
        start = self.hparams.kl_anneal_start
        return min(1.0, start + (1.0 - start) * self.global_step / steps)

    def _sample_batch(self, num_samples: int, times: torch.Tensor) -> torch.Tensor:
        return self.model.sample(times, num_samples, self.latent_options)

    RESUMABLE_HYPERPARAMETERS = ("lr", "lr_decay", "divergence_threshold")

    def _apply_optimiser_hyperparameters(self) -> None:
        # As if the run had used this lr and lr_decay from its start: lr * lr_decay ** steps so far.
        hp = self.hparams
        scheduler = self.lr_schedulers()
        scheduler.base_lrs, scheduler.gamma = [hp.lr], hp.lr_decay
        lr = hp.lr * hp.lr_decay**scheduler.last_epoch
        for group in self.optimizers(use_pl_optimizer=False).param_groups:
            group["initial_lr"], group["lr"] = hp.lr, lr
        scheduler._last_lr = [lr]

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=self.hparams.lr_decay)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        terms = self.model.elbo_terms(batch, self.latent_options)
        kl = terms["kl_path"] + terms["kl_initial"]
        beta = self.kl_weight()
        loss = -(terms["log_likelihood"] - beta * kl)
        self.divergence_guard.watch("negative ELBO", loss)
        self.log("train/loss", loss.detach(), on_step=True, prog_bar=True)
        self.log("train/elbo", (terms["log_likelihood"] - kl).detach(), on_step=True)
        self.log("train/log_likelihood", terms["log_likelihood"].detach(), on_step=True)
        self.log("train/kl", kl.detach(), on_step=True)
        self.log("train/kl_weight", beta, on_step=True)
        return loss

    def _elbo(self, batch: torch.Tensor) -> torch.Tensor:
        terms = self.model.elbo_terms(batch, self.latent_options)
        return terms["log_likelihood"] - terms["kl_path"] - terms["kl_initial"]

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self.log("val/elbo", self._elbo(batch), prog_bar=True, sync_dist=True)

    def test_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        with preserved_rng():
            self.log("test/elbo", self._elbo(batch), sync_dist=True)

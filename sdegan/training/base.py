"""Behaviour shared by the SDE-GAN and latent-SDE LightningModules."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from sdegan.models.solve_options import check_solve_options
from sdegan.random_state import capture_rng_state, restore_rng_state
from sdegan.solvers import SolveSpec
from sdegan.training.instrumentation import DivergenceGuard, EvaluationCounter, offset_rng_by_rank
from sdegan.errors import ConfigurationError
from sdegan.paths import check_times

__all__ = ["NeuralSDEModule"]

RNG_CHECKPOINT_KEY = "sdegan_rng_state"

log = logging.getLogger(__name__)


class NeuralSDEModule(pl.LightningModule):
    """Base class: time grid, solve options, step timing, NFE logging, RNG state in checkpoints and the
    divergence guard.

    Subclasses build their networks, then call :meth:`_count_evaluations` with the vector-field
    networks, and implement :meth:`_sample_batch`. They give their losses (and generated samples) to
    ``self.divergence_guard``; it is checked once per step before the optimiser step (here for automatic
    optimisation, by the subclass for manual optimisation) and stops training with
    :class:`~sdegan.training.errors.NonFiniteLossError` when a loss, sample or gradient is NaN/inf or a
    loss or sample exceeds ``divergence_threshold`` in absolute value (``None``: finiteness only).

    A fit resumed from a checkpoint whose ``RESUMABLE_HYPERPARAMETERS`` (learning rates and the like)
    differ from this module's applies this module's values to the restored optimiser at the start of
    training (:meth:`_apply_optimiser_hyperparameters`) and logs a warning naming them.
    """

    RESUMABLE_HYPERPARAMETERS: tuple[str, ...] = ("divergence_threshold",)
    #: Whether the training steps read the train batches' values only through :func:`sdegan.paths.fill_missing`
    #: (as interpolation coefficients), so that :class:`~sdegan.data.datamodule.PathDataModule` may serve them
    #: filled, computed once for the whole split instead of once per batch. Modules whose losses need to know
    #: which values were observed (a likelihood at the observations) keep the default ``False``.
    TAKES_FILLED_TRAIN_PATHS: bool = False

    def __init__(
        self,
        times: Sequence[float] | torch.Tensor,
        solve_options: Mapping[str, Any],
        divergence_threshold: float | None = None,
    ) -> None:
        super().__init__()
        times = torch.as_tensor(times, dtype=torch.get_default_dtype()).flatten()
        if times.numel() < 2 or not bool((times.diff() > 0).all()):
            raise ConfigurationError("times must be a strictly increasing grid of at least two points")
        self.register_buffer("times", times)
        self.solve_options = check_solve_options(solve_options)  # subclasses build their solve specs from it
        self.divergence_guard = DivergenceGuard(divergence_threshold)
        self._evaluations: EvaluationCounter | None = None
        self._step_started = 0.0
        self._rng_before_validation: dict[str, Any] | None = None
        self._changed_on_resume: dict[str, tuple[Any, Any]] = {}

    def solve_specs(self) -> dict[str, SolveSpec]:
        """The solve specifications this module built (one per problem it solves), by attribute name."""
        return {name: value for name, value in vars(self).items() if isinstance(value, SolveSpec)}

    # ---------------------------------------------------------------- instrumentation
    def _count_evaluations(self, modules: dict[str, nn.Module]) -> None:
        self._evaluations = EvaluationCounter(modules)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self._evaluations is not None:
            self._evaluations.reset()
        self._step_started = time.perf_counter()

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.log("train/step_time", time.perf_counter() - self._step_started, on_step=True)
        if self._evaluations is not None:
            for name, count in self._evaluations.counts.items():
                self.log(f"solver/nfe_{name}", float(count), on_step=True)
            self.log("solver/nfe", float(self._evaluations.total()), on_step=True, prog_bar=True)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.automatic_optimization:  # manual steps check before calling optimizer.step()
            self.divergence_guard.watch_gradients(self.parameters())
            self.divergence_guard.check(self.global_step)

    def on_validation_epoch_start(self) -> None:
        # Validation samples must not shift the training run's random streams (resume == uninterrupted).
        self._rng_before_validation = capture_rng_state()

    def on_validation_epoch_end(self) -> None:
        if self._rng_before_validation is not None:
            restore_rng_state(self._rng_before_validation)
            self._rng_before_validation = None

    # ---------------------------------------------------------------- checkpoints
    def on_train_start(self) -> None:
        if self.global_step == 0:  # a fresh fit; a resumed one continues its saved per-rank streams
            offset_rng_by_rank(self.global_rank)
        if self._changed_on_resume:  # the restored optimiser holds the checkpoint's values until now
            self._apply_optimiser_hyperparameters()
            changes = ", ".join(f"{key}={new} (the checkpoint had {old})"
                                for key, (old, new) in self._changed_on_resume.items())
            log.warning("resumed at step %d with changed settings, applied from now on: %s", self.global_step, changes)
            self._changed_on_resume = {}

    def _apply_optimiser_hyperparameters(self) -> None:
        """Write this module's optimiser hyperparameters into the (restored) optimisers and schedulers."""

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # A checkpoint written during validation stores the streams as training will continue them.
        state = self._rng_before_validation
        state = capture_rng_state() if state is None else state
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # Every process builds the checkpoint; keep each one's streams (rank 0 writes the file).
            states: list[Any] = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(states, state)
            checkpoint[RNG_CHECKPOINT_KEY] = {"per_rank": states}
        else:
            checkpoint[RNG_CHECKPOINT_KEY] = state

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Resuming a fit (a trainer is attached): continue the saved random streams, restored here,
        # before Lightning creates the epoch's data iterator (its shuffle draws from them).
        # Plain ``load_from_checkpoint`` (no trainer) leaves the global generators alone.
        if self._trainer is None:
            return
        stored = checkpoint.get("hyper_parameters") or {}
        self._changed_on_resume = {
            key: (stored[key], self.hparams[key]) for key in self.RESUMABLE_HYPERPARAMETERS
            if key in stored and key in self.hparams and stored[key] != self.hparams[key]
        }
        state = checkpoint.get(RNG_CHECKPOINT_KEY)
        if state is None:
            return
        if "per_rank" in state:
            per_rank = state["per_rank"]
            if len(per_rank) != self.trainer.world_size:
                raise ConfigurationError(
                    f"this checkpoint was written by {len(per_rank)} data-parallel processes; resume it with "
                    f"the same number (trainer.devices), not {self.trainer.world_size}"
                )
            state = per_rank[self.global_rank]
        restore_rng_state(state)

    # ---------------------------------------------------------------- sampling
    def _sample_batch(self, num_samples: int, times: torch.Tensor) -> torch.Tensor:
        """``num_samples`` paths at ``times`` (``(length,)`` or ``(num_samples, length)``)."""
        raise NotImplementedError

    @torch.no_grad()
    def sample_like(self, real: torch.Tensor) -> torch.Tensor:
        """Generated paths to compare with ``real`` ``(n, length, 1 + C)``: ``n`` of them at its times (a
        conditional model continues each real path's observed prefix)."""
        return self.sample(real.size(0), real[..., 0])

    @torch.no_grad()
    def sample(self, num_samples: int, times: torch.Tensor | None = None, batch_size: int = 1024) -> torch.Tensor:
        """``num_samples`` generated paths ``(num_samples, length, 1 + C)`` in the path format.

        Arguments:
            num_samples: how many paths.
            times: where to observe them: ``None`` for the datamodule's regular generation grid (the
                ``times`` the module was built with), a 1-D tensor ``(length,)`` shared by every path, or a
                2-D tensor ``(num_samples, length)`` of per-path strictly increasing observation times (e.g.
                ``real[..., 0]``, to compare generated paths with real ones observed irregularly).
                Channel 0 of the result equals ``times``.
            batch_size: paths drawn per solve, to bound memory.

        Uses the evaluation networks (the SWA averages once averaging has started, for SDE-GANs).
        Returned on the module's device.
        """
        if num_samples < 1:
            raise ConfigurationError(f"num_samples must be positive, got {num_samples}")
        times = self.times if times is None else times.to(self.times)
        check_times(times, "sample times")
        if times.ndim == 2 and times.size(0) != num_samples:
            raise ConfigurationError(
                f"per-path sample times must have shape (num_samples, length) = ({num_samples}, length), "
                f"got {tuple(times.shape)}"
            )
        chunks = []
        for start in range(0, num_samples, batch_size):
            size = min(batch_size, num_samples - start)
            chunk_times = times if times.ndim == 1 else times[start : start + size]
            chunks.append(self._sample_batch(size, chunk_times))
        return torch.cat(chunks)

"""Run-time bookkeeping shared by the training modules: function-evaluation counts, per-rank random streams,
checks (saving and restoring random state: :mod:`sdegan.random_state`)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from sdegan.training.errors import NonFiniteLossError

__all__ = [
    "EvaluationCounter",
    "offset_rng_by_rank",
    "check_finite_loss",
    "check_finite_gradients",
]


class EvaluationCounter:
    """Counts forward calls of vector-field networks (one call = one function evaluation).

    Forward hooks fire for evaluations in the forward solve and for the re-evaluations a reversible
    or adjoint backward pass makes, so the count is the solver's total NFE.
    """

    def __init__(self, modules: dict[str, nn.Module]) -> None:
        self.counts = dict.fromkeys(modules, 0)
        for name, module in modules.items():
            module.register_forward_hook(self._hook_for(name))

    def _hook_for(self, name: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            self.counts[name] += 1

        return hook

    def reset(self) -> None:
        for name in self.counts:
            self.counts[name] = 0

    def total(self) -> int:
        return sum(self.counts.values())


def offset_rng_by_rank(rank: int) -> None:
    """Give data-parallel process ``rank`` its own streams: ``seed_everything`` seeds every process
    alike, which would make all processes draw the same generator noise. Rank 0 keeps its streams."""
    if rank == 0:
        return
    seed = (torch.initial_seed() + 1_000_003 * rank) % 2**32
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def check_finite_loss(loss: torch.Tensor, step: int, what: str) -> None:
    """Raise :class:`NonFiniteLossError` if ``loss`` is NaN or inf."""
    if not bool(torch.isfinite(loss).all()):
        raise NonFiniteLossError(
            f"non-finite {what} ({loss.detach().cpu().tolist()}) at training step {step}; stopped before "
            "the optimiser step, so the parameters and the last checkpoint are still the last good ones"
        )


def check_finite_gradients(parameters: Iterable[nn.Parameter], step: int) -> None:
    """Raise :class:`NonFiniteLossError` if any gradient is NaN or inf."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if grads and not bool(torch.isfinite(torch.stack([g.abs().sum() for g in grads])).all()):
        raise NonFiniteLossError(
            f"non-finite gradient at training step {step}; stopped before the optimiser step, so the "
            "parameters and the last checkpoint are still the last good ones"
        )

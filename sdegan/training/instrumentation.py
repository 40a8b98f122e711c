"""Run-time bookkeeping shared by the training modules: function-evaluation counts, RNG state, checks."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from sdegan.training.errors import NonFiniteLossError

__all__ = [
    "EvaluationCounter",
    "capture_rng_state",
    "offset_rng_by_rank",
    "restore_rng_state",
    "preserved_rng",
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


def capture_rng_state() -> dict[str, Any]:
    """States of Python's, NumPy's and torch's (CPU and CUDA) global generators."""
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    # Plain tensors and Python scalars only, so checkpoints load with torch.load(weights_only=True).
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss),
                  float(cached_gaussian)),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    random.setstate(state["python"])
    kind, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def offset_rng_by_rank(rank: int) -> None:
    """Give data-parallel process ``rank`` its own streams: ``seed_everything`` seeds every process
    alike, which would make all processes draw the same generator noise. Rank 0 keeps its streams."""
    if rank == 0:
        return
    seed = (torch.initial_seed() + 1_000_003 * rank) % 2**32
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block (validation, plotting) without changing the global random streams of training."""
    state = capture_rng_state()
    try:
        yield
    finally:
        restore_rng_state(state)


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

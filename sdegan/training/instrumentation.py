"""Run-time bookkeeping shared by the training modules: function-evaluation counts, per-rank random streams,
the divergence guard (saving and restoring random state: :mod:`sdegan.random_state`)."""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from sdegan.errors import ConfigurationError
from sdegan.training.errors import NonFiniteLossError

__all__ = [
    "EvaluationCounter",
    "offset_rng_by_rank",
    "DivergenceGuard",
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

        hook.ignores_arguments = True  # hand-written evaluation paths need not form the module's input for it
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


class DivergenceGuard:
    """Stops training at the first sign of divergence, with one host synchronisation per step.

    During a step, :meth:`watch` records the largest absolute entry of a loss or of generated samples
    and :meth:`watch_gradients` the largest absolute gradient entry over all parameters (one fused
    ``torch._foreach_norm``), all kept on the device; :meth:`check`, called once before the optimiser
    step, copies them to the host together and raises :class:`NonFiniteLossError` when any is NaN/inf
    or a watched loss or sample exceeds ``threshold`` (gradients are only checked for finiteness).

    Arguments:
        threshold: the largest absolute value a loss or a generated (normalised) sample may reach;
            ``None`` checks finiteness only.
    """

    def __init__(self, threshold: float | None) -> None:
        if threshold is not None and not threshold > 0:
            raise ConfigurationError(f"divergence_threshold must be positive or null, got {threshold}")
        self.threshold = None if threshold is None else float(threshold)
        self._watched: list[tuple[str, torch.Tensor, bool]] = []

    def watch(self, name: str, tensor: torch.Tensor) -> None:
        """Record ``max |tensor|`` (a loss, or generated value channels) under ``name``; no host sync."""
        self._watched.append((name, tensor.detach().abs().amax().float(), True))

    def watch_gradients(self, parameters: Iterable[nn.Parameter]) -> None:
        """Record the largest absolute gradient entry of ``parameters`` (NaN if any is NaN); no host sync."""
        grads = [p.grad for p in parameters if p.grad is not None]
        if grads:
            largest = torch.stack([norm.float() for norm in torch._foreach_norm(grads, float("inf"))]).amax()
            self._watched.append(("gradient", largest, False))

    def check(self, step: int) -> None:
        """Raise :class:`NonFiniteLossError` naming the first diverged quantity; clears what was watched."""
        watched, self._watched = self._watched, []
        if not watched:
            return
        values = torch.stack([value for _, value, _ in watched]).tolist()  # the step's one host sync
        for (name, _, bounded), value in zip(watched, values):
            if not math.isfinite(value):
                problem = f"non-finite {name} ({value}) at training step {step}"
            elif bounded and self.threshold is not None and value > self.threshold:
                problem = (f"{name} reached {value:.3g} at training step {step}, beyond "
                           f"divergence_threshold={self.threshold:g}")
            else:
                continue
            raise NonFiniteLossError(f"training diverged: {problem}", step)

    @contextlib.contextmanager
    def explaining_failures(self, step: int) -> Iterator[None]:
        """Run a step's computation; if it raises and a watched value has already diverged (e.g. NaN
        generated samples that the discriminator then rejects), raise that divergence instead, chained
        to the error. Any other error propagates unchanged."""
        try:
            yield
        except Exception:
            self.check(step)
            raise

"""The global random streams (Python, NumPy, torch CPU and CUDA): save, restore, and run code seeded or
untouched by it. The one place the project saves and restores random state (metrics, validation, plots,
checkpoints)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from sdegan.errors import ConfigurationError

__all__ = ["capture_rng_state", "preserved_rng", "restore_rng_state", "seeded"]


def capture_rng_state() -> dict[str, Any]:
    """States of Python's, NumPy's and torch's (CPU and initialised CUDA) global generators."""
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


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block (validation, plotting, a metric) without changing the global random streams."""
    state = capture_rng_state()
    try:
        yield
    finally:
        restore_rng_state(state)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the body with torch's, NumPy's and Python's global generators seeded by ``seed``, restoring their
    previous states on exit.

    NumPy and Python are included because samplers draw from them too. A metric computed inside a training
    run therefore neither depends on nor disturbs the training's random streams.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigurationError(f"seed must be a non-negative int, got {seed!r}")
    with preserved_rng():
        torch.manual_seed(seed)  # seeds every CUDA device too
        random.seed(seed)
        np.random.seed(seed % 2**32)
        yield

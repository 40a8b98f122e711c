"""Seeded randomness that leaves the caller's random state untouched."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

from sdegan.errors import ConfigurationError


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the body with torch's CPU (and initialised CUDA), NumPy's and Python's global generators
    seeded by ``seed``, restoring their previous states on exit.

    NumPy and Python are included because samplers draw from them too (torchsde's
    ``BrownianInterval`` takes its default entropy from NumPy). A metric computed inside a training
    run therefore neither depends on nor disturbs the training's random streams.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigurationError(f"seed must be a non-negative int, got {seed!r}")
    cuda_devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(seed)
            random.seed(seed)
            np.random.seed(seed % 2**32)
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)

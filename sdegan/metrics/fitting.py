"""The small training loop and input standardisation shared by the learned metrics."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import Tensor, nn

from sdegan.errors import ConfigurationError


class ChannelStandardiser:
    """Per-channel affine standardisation with statistics from one (training) tensor.

    Arguments:
        paths: ``(batch, length, channels)`` without NaN; mean and std are taken over batch and time.
    """

    def __init__(self, paths: Tensor) -> None:
        self.mean = paths.mean(dim=(0, 1))
        self.std = paths.std(dim=(0, 1)).clamp_min(1e-6)

    def __call__(self, paths: Tensor) -> Tensor:
        return (paths - self.mean) / self.std


@contextlib.contextmanager
def gradients_enabled() -> Iterator[None]:
    """Enable autograd inside the block even when the caller runs under ``torch.no_grad()`` or
    ``torch.inference_mode()`` (as Lightning's test loop does). Tensors made under inference mode
    must be cloned inside the block before they enter a model."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def check_positive_int(value: object, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is an int >= 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(f"{name} must be an integer >= 1, got {value!r}")


def check_fraction(value: object, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a number strictly between 0 and 1."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 < value < 1.0:
        raise ConfigurationError(f"{name} must be a number strictly between 0 and 1, got {value!r}")


def fit(model: nn.Module, loss_fn: Callable[..., Tensor], tensors: tuple[Tensor, ...], *,
        epochs: int, batch_size: int, lr: float) -> None:
    """Train ``model`` with Adam on shuffled minibatches of ``tensors`` for a fixed number of epochs.

    ``loss_fn(*minibatch)`` returns the scalar loss. The shuffling uses torch's global generator, so
    call this inside :func:`sdegan.random_state.seeded` for a deterministic result.
    """
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    if not lr > 0:
        raise ConfigurationError(f"lr must be positive, got {lr!r}")
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    size = tensors[0].shape[0]
    model.train()
    for _ in range(epochs):
        order = torch.randperm(size, device=tensors[0].device)
        for start in range(0, size, batch_size):
            index = order[start:start + batch_size]
            loss = loss_fn(*(tensor[index] for tensor in tensors))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    model.eval()

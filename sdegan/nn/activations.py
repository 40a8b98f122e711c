"""Activation functions used by the neural SDE and CDE vector fields."""

from __future__ import annotations

import torch
from torch import nn

from sdegan.errors import ConfigurationError

__all__ = ["LipSwish", "activation_by_name", "ACTIVATIONS"]


class LipSwish(nn.Module):
    """``0.909 * silu(x)``: the SiLU rescaled to have Lipschitz constant at most one.

    Used by the clipped SDE-GAN recipe, where the discriminator's Lipschitz bound comes from weight
    clipping and 1-Lipschitz activations.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.909 * nn.functional.silu(x)


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "lipswish": LipSwish,
    "softplus": nn.Softplus,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
}


def activation_by_name(name: str) -> nn.Module:
    """A fresh activation module for ``name`` (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ConfigurationError(
            f"unknown activation {name!r}; valid choices: {sorted(ACTIVATIONS)}"
        ) from None

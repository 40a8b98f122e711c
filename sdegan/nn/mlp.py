"""A multilayer perceptron with a configurable activation and optional final tanh."""

from __future__ import annotations

import torch
from torch import nn

from sdegan.nn.activations import activation_by_name
from sdegan.errors import ConfigurationError

__all__ = ["MLP"]


class MLP(nn.Module):
    """``in_size -> [width] * depth -> out_size`` with ``activation`` between layers.

    Arguments:
        in_size, out_size: input and output features.
        width: features of every hidden layer.
        depth: number of hidden layers (0 gives a single Linear layer).
        activation: name from :data:`sdegan.nn.activations.ACTIVATIONS`.
        final_tanh: apply ``tanh`` to the output (bounded vector fields).
    """

    def __init__(
        self,
        in_size: int,
        out_size: int,
        width: int,
        depth: int,
        activation: str = "lipswish",
        final_tanh: bool = False,
    ) -> None:
        super().__init__()
        if depth < 0 or width < 1 or in_size < 1 or out_size < 1:
            raise ConfigurationError(
                f"MLP needs depth >= 0 and positive sizes, got in_size={in_size}, "
                f"out_size={out_size}, width={width}, depth={depth}"
            )
        layers: list[nn.Module] = []
        features = in_size
        for _ in range(depth):
            layers += [nn.Linear(features, width), activation_by_name(activation)]
            features = width
        layers.append(nn.Linear(features, out_size))
        if final_tanh:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

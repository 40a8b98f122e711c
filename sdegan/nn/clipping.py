"""Weight clipping: the Lipschitz constraint of the clipped SDE-GAN recipe."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["clip_linear_weights", "max_clip_violation"]


@torch.no_grad()
def clip_linear_weights(module: nn.Module) -> None:
    """Clamp every ``nn.Linear`` weight in ``module`` to ``[-1/out_features, 1/out_features]``.

    With 1-Lipschitz activations (LipSwish, tanh) this bounds each layer's Lipschitz constant; the
    recipe applies it to the discriminator after every optimiser step. Biases are left untouched.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            bound = 1.0 / layer.out_features
            layer.weight.clamp_(-bound, bound)


@torch.no_grad()
def max_clip_violation(module: nn.Module) -> float:
    """Largest amount by which any ``nn.Linear`` weight exceeds its clip bound (0.0 if none does)."""
    worst = 0.0
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            excess = layer.weight.abs().max().item() - 1.0 / layer.out_features
            worst = max(worst, excess)
    return worst

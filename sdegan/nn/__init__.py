"""Neural-network building blocks: LipSwish, MLP, weight clipping."""

from sdegan.nn.activations import ACTIVATIONS, LipSwish, activation_by_name
from sdegan.nn.clipping import clip_linear_weights, max_clip_violation
from sdegan.nn.mlp import MLP

__all__ = [
    "ACTIVATIONS",
    "LipSwish",
    "MLP",
    "activation_by_name",
    "clip_linear_weights",
    "max_clip_violation",
]

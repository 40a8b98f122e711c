"""Small neural ODE / CDE / SDE vector fields for the solver benchmarks (the SDE-GAN generator's sizes by default)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def mlp(in_size: int, out_size: int, width: int, final_tanh: bool) -> nn.Sequential:
    """One hidden layer of ``width`` with softplus, then a linear layer (and tanh when ``final_tanh``)."""
    layers: list[nn.Module] = [nn.Linear(in_size, width), nn.Softplus(), nn.Linear(width, out_size)]
    if final_tanh:
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class NeuralSDE(nn.Module):
    """Stratonovich SDE with general noise, drift and diffusion MLPs of ``(t, y)`` ending in tanh (SDE-GAN sizes)."""

    sde_type = "stratonovich"
    noise_type = "general"

    def __init__(self, state_size: int = 16, noise_size: int = 3, width: int = 16) -> None:
        super().__init__()
        self.state_size, self.brownian_size = state_size, noise_size
        self.drift = mlp(1 + state_size, state_size, width, final_tanh=True)
        self.diffusion = mlp(1 + state_size, state_size * noise_size, width, final_tanh=True)

    def f_and_g(self, t: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        ty = torch.cat([t.expand(y.size(0), 1).to(y), y], dim=1)
        g = self.diffusion(ty).view(y.size(0), self.state_size, self.brownian_size)
        return self.drift(ty), g

    def f(self, t: Tensor, y: Tensor) -> Tensor:
        return self.f_and_g(t, y)[0]

    def g(self, t: Tensor, y: Tensor) -> Tensor:
        return self.f_and_g(t, y)[1]


class ODEField(nn.Module):
    """``dy/dt = MLP(t, y)`` ending in tanh."""

    def __init__(self, state_size: int = 16, width: int = 64) -> None:
        super().__init__()
        self.net = mlp(1 + state_size, state_size, width, final_tanh=True)

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        return self.net(torch.cat([t.expand(y.size(0), 1).to(y), y], dim=1))


class CDEField(nn.Module):
    """``dz = MLP(z) dX``: maps ``(t, z)`` to a ``(batch, hidden, channels)`` matrix."""

    def __init__(self, hidden_size: int = 16, channels: int = 3, width: int = 64) -> None:
        super().__init__()
        self.hidden_size, self.channels = hidden_size, channels
        self.net = mlp(hidden_size, hidden_size * channels, width, final_tanh=True)

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        return self.net(z).view(z.size(0), self.hidden_size, self.channels)


def random_walk_paths(batch: int, length: int, channels: int, generator: torch.Generator, dtype: torch.dtype) -> Tensor:
    """``(batch, length, channels)`` paths: time in [0, 1] as channel 0, Gaussian random walks in the others."""
    times = torch.linspace(0, 1, length, dtype=dtype).expand(batch, length).unsqueeze(-1)
    steps = torch.randn(batch, length, channels - 1, generator=generator, dtype=dtype) / length**0.5
    return torch.cat([times, steps.cumsum(dim=1)], dim=-1)


__all__ = ["mlp", "NeuralSDE", "ODEField", "CDEField", "random_walk_paths"]

"""Small test problems shared by the solver tests: neural SDEs of each noise type, a neural CDE, a neural ODE."""

from __future__ import annotations

import torch
import torchcde
from torch import nn

from sdegan.nn import LipSwish


def mlp(in_size: int, out_size: int, width: int = 16, tanh: bool = True) -> nn.Sequential:
    layers = [nn.Linear(in_size, width), LipSwish(), nn.Linear(width, out_size)]
    if tanh:
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class NeuralSDE(nn.Module):
    """Stratonovich neural SDE of (t, y) in the style of the SDE-GAN generator (general noise: state 16,
    noise 3, MLP width 16, LipSwish, tanh), or with diagonal/additive/scalar noise."""

    sde_type = "stratonovich"

    def __init__(self, state: int = 16, noise: int = 3, width: int = 16, noise_type: str = "general"):
        super().__init__()
        self.noise_type = noise_type
        self.state, self.brownian_size = state, noise
        self.drift = mlp(1 + state, state, width)
        if noise_type == "general":
            self.diffusion = mlp(1 + state, state * noise, width)
        elif noise_type == "diagonal":
            self.diffusion = mlp(1 + state, state, width)
        elif noise_type == "additive":
            self.diffusion = mlp(1, state * noise, width)
        elif noise_type == "scalar":
            self.brownian_size = 1
            self.diffusion = mlp(1 + state, state, width)

    def f_and_g(self, t, y):
        tt = t.expand(y.size(0), 1)
        ty = torch.cat([tt, y], dim=1)
        f = self.drift(ty)
        if self.noise_type == "diagonal":
            g = self.diffusion(ty)
        elif self.noise_type == "additive":
            g = self.diffusion(tt).view(-1, self.state, self.brownian_size)
        elif self.noise_type == "scalar":
            g = self.diffusion(ty).unsqueeze(-1)
        else:
            g = self.diffusion(ty).view(-1, self.state, self.brownian_size)
        return f, g

    def f(self, t, y):
        return self.f_and_g(t, y)[0]

    def g(self, t, y):
        return self.f_and_g(t, y)[1]


class CDEFunc(nn.Module):
    def __init__(self, hidden: int = 8, channels: int = 3, width: int = 16):
        super().__init__()
        self.hidden, self.channels = hidden, channels
        self.net = mlp(1 + hidden, hidden * channels, width)

    def forward(self, t, z):
        tz = torch.cat([t.expand(z.size(0), 1), z], dim=1)
        return self.net(tz).view(-1, self.hidden, self.channels)


class ODEFunc(nn.Module):
    def __init__(self, state: int = 8, width: int = 16):
        super().__init__()
        self.net = mlp(1 + state, state, width)

    def forward(self, t, y):
        return self.net(torch.cat([t.expand(y.size(0), 1), y], dim=1))


def linear_path(batch: int, length: int, channels: int, dtype=torch.float64, seed: int = 0):
    """Coefficients (requiring grad) and the linear interpolation of a random path with time as channel 0."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, length - 1, length, dtype=dtype)
    values = torch.randn(batch, length, channels - 1, generator=generator, dtype=dtype).cumsum(1) * 0.3
    data = torch.cat([t.expand(batch, length).unsqueeze(-1), values], dim=-1)
    coeffs = torchcde.linear_interpolation_coeffs(data).requires_grad_(True)
    return coeffs, torchcde.LinearInterpolation(coeffs)

"""Acceptance 3: convergence orders fitted against closed-form solutions."""

import math

import numpy as np
import pytest
import torch
import torchsde
from torch import nn

from sdegan.solvers import odeint, sdeint

STEP_SIZES = [2.0**-k for k in range(3, 8)]
BATCH = 1000


def _fitted_order(step_sizes, errors):
    return np.polyfit(np.log(step_sizes), np.log(errors), 1)[0]


class IntegratedBrownianMotion(nn.Module):
    """d(y1, y2) = (0, y1) dt + (1, 0) o dW: y1 = W and y2 = int_0^t W ds, an additive-noise SDE whose
    solution depends on the whole path (the space-time Levy area), not only on W_t."""

    noise_type = "additive"
    sde_type = "stratonovich"

    def f(self, t, y):
        return torch.stack([torch.zeros_like(y[:, 0]), y[:, 0]], dim=1)

    def g(self, t, y):
        return torch.tensor([[1.0], [0.0]], dtype=y.dtype).expand(y.size(0), 2, 1)


class StratonovichGBM(nn.Module):
    """dy = mu y dt + sigma y o dW: y_t = y_0 exp(mu t + sigma W_t)."""

    noise_type = "diagonal"
    sde_type = "stratonovich"
    mu, sigma = 0.5, 0.8

    def f(self, t, y):
        return self.mu * y

    def g(self, t, y):
        return self.sigma * y


class LevyArea(nn.Module):
    """Non-commutative general noise: d(y1, y2, y3) = (dW1, dW2, y1 o dW2 - y2 o dW1); y3 = twice the Levy area."""

    noise_type = "general"
    sde_type = "stratonovich"
    brownian_size = 2

    def f(self, t, y):
        return torch.zeros_like(y)

    def g(self, t, y):
        ones, zeros = torch.ones_like(y[:, 0]), torch.zeros_like(y[:, 0])
        rows = [torch.stack([ones, zeros], 1), torch.stack([zeros, ones], 1), torch.stack([-y[:, 1], y[:, 0]], 1)]
        return torch.stack(rows, dim=1)


def _solve(sde, y0, bm, step):
    ts = torch.tensor([0.0, 1.0], dtype=torch.float64)
    return sdeint(sde, y0, ts, method="reversible_heun", gradient="direct", brownian=bm, dt=step)[-1]


def test_reversible_heun_strong_order_one_with_additive_noise():
    bm = torchsde.BrownianInterval(
        0.0, 1.0, size=(BATCH, 1), dtype=torch.float64, dt=STEP_SIZES[-1], entropy=1,
        levy_area_approximation="space-time",
    )
    _, time_integral = bm(0.0, 1.0, return_U=True)  # int_0^1 W_s ds, exactly, from the same Brownian sample
    y0 = torch.zeros(BATCH, 2, dtype=torch.float64)
    errors = [(_solve(IntegratedBrownianMotion(), y0, bm, h)[:, 1] - time_integral[:, 0]).abs().mean().item()
              for h in STEP_SIZES]
    assert abs(_fitted_order(STEP_SIZES, errors) - 1.0) <= 0.25


def test_reversible_heun_strong_order_one_on_commutative_multiplicative_noise():
    """Stratonovich GBM has commutative noise, where Heun-type methods reach strong order 1, not 0.5."""
    bm = torchsde.BrownianInterval(0.0, 1.0, size=(BATCH, 1), dtype=torch.float64, dt=STEP_SIZES[-1], entropy=2)
    y0 = torch.ones(BATCH, 1, dtype=torch.float64)
    sde = StratonovichGBM()
    exact = y0 * torch.exp(sde.mu + sde.sigma * bm(0.0, 1.0))
    errors = [(_solve(sde, y0, bm, h) - exact).abs().mean().item() for h in STEP_SIZES]
    assert abs(_fitted_order(STEP_SIZES, errors) - 1.0) <= 0.25


def test_reversible_heun_strong_order_half_with_noncommutative_noise():
    """No closed form exists for the Levy area, so the reference is the same scheme at dt = 2**-12."""
    bm = torchsde.BrownianInterval(0.0, 1.0, size=(BATCH, 2), dtype=torch.float64, dt=2.0**-12, entropy=3)
    y0 = torch.zeros(BATCH, 3, dtype=torch.float64)
    reference = _solve(LevyArea(), y0, bm, 2.0**-12)
    errors = [(_solve(LevyArea(), y0, bm, h) - reference).norm(dim=-1).mean().item() for h in STEP_SIZES]
    assert abs(_fitted_order(STEP_SIZES, errors) - 0.5) <= 0.25


class CosineGrowth(nn.Module):
    """dy/dt = y cos t: y_t = y_0 exp(sin t)."""

    def forward(self, t, y):
        return y * torch.cos(t)


@pytest.mark.parametrize(
    "method, order",
    [("reversible_euler", 1), ("reversible_midpoint", 2), ("reversible_ralston3", 3), ("reversible_rk4", 4),
     ("reversible_heun", 2)],
)
def test_ode_order(method, order):
    """At coupling 0.5. Close to coupling 1 the scheme is nearly symmetric and an odd-order base can converge
    like the next even order (seen for ralston3), a bonus rather than the base order checked here."""
    step_sizes = [2.0**-k for k in range(4, 9)]
    y0 = torch.ones(1, 1, dtype=torch.float64)
    ts = torch.tensor([0.0, 2.0], dtype=torch.float64)
    coupling = None if method == "reversible_heun" else 0.5
    errors = [
        abs(odeint(CosineGrowth(), y0, ts, method=method, gradient="direct", dt=h, coupling=coupling)[-1].item()
            - math.exp(math.sin(2.0)))
        for h in step_sizes
    ]
    assert abs(_fitted_order(step_sizes, errors) - order) <= 0.25

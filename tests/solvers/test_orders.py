"""Declared orders, measured: CDEs over linear interpolations and over natural cubic splines (every stage
sees the control at its own time), and the strong orders of the reversible_<base> SDE solvers."""

import functools

import pytest
import torch
import torchcde
import torchsde

from sdegan.solvers import capabilities, cdeint, sdeint
from tests.solvers.test_convergence import BATCH, STEP_SIZES, IntegratedBrownianMotion, LevyArea, _fitted_order

CDE_STEPS = [2.0**-k for k in range(4, 9)]
CDE_METHODS = ["euler", "midpoint", "ralston3", "rk4", "reversible_heun", "reversible_midpoint",
               "reversible_ralston3", "reversible_rk4"]


class TanhField(torch.nn.Module):
    """A fixed nonlinear CDE vector field ``tanh(A z + b)`` as a (hidden, channels) matrix."""

    def __init__(self, hidden: int = 3, channels: int = 3):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.A = torch.randn(hidden * channels, hidden, generator=generator, dtype=torch.float64) * 0.5
        self.b = torch.randn(hidden * channels, generator=generator, dtype=torch.float64) * 0.5
        self.hidden, self.channels = hidden, channels

    def forward(self, t, z):
        return torch.tanh(z @ self.A.T + self.b).view(-1, self.hidden, self.channels)


def _path(kind: str):
    t = torch.linspace(0, 4, 5, dtype=torch.float64)
    data = torch.stack([t, torch.sin(1.3 * t), torch.cos(0.7 * t) * t], -1).unsqueeze(0).repeat(2, 1, 1)
    data[1, :, 1:] *= -0.5
    if kind == "linear":
        return torchcde.LinearInterpolation(torchcde.linear_interpolation_coeffs(data))
    return torchcde.CubicSpline(torchcde.natural_cubic_coeffs(data))


Z0 = torch.tensor([[0.1, -0.2, 0.3], [0.0, 0.5, -0.1]], dtype=torch.float64)
TS = torch.tensor([0.0, 4.0], dtype=torch.float64)


@functools.lru_cache(maxsize=None)
def _reference(kind: str) -> torch.Tensor:
    return cdeint(TanhField(), Z0, _path(kind), TS, method="rk4", gradient="direct", dt=2.0**-11)[-1]


@pytest.mark.parametrize("kind", ["linear", "cubic"])
@pytest.mark.parametrize("method", CDE_METHODS)
def test_cde_orders(method, kind):
    """Before, over the cubic spline every method converged at order 2 (one increment for every stage)."""
    coupling = 0.5 if method.startswith("reversible_") and method != "reversible_heun" else None
    errors = [(cdeint(TanhField(), Z0, _path(kind), TS, method=method, gradient="direct", dt=h, coupling=coupling)[-1]
               - _reference(kind)).abs().max().item() for h in CDE_STEPS]
    declared = float(capabilities("cde")[method].order)
    assert abs(_fitted_order(CDE_STEPS, errors) - declared) <= 0.25


def _sde_solve(method, sde, y0, bm, step):
    ts = torch.tensor([0.0, 1.0], dtype=torch.float64)
    return sdeint(sde, y0, ts, method=method, gradient="direct", brownian=bm, dt=step, coupling=0.5)[-1]


@pytest.mark.parametrize("method", ["reversible_euler", "reversible_midpoint", "reversible_ralston3", "reversible_rk4"])
def test_reversible_runge_kutta_strong_order_with_additive_noise(method):
    bm = torchsde.BrownianInterval(0.0, 1.0, size=(BATCH, 1), dtype=torch.float64, dt=STEP_SIZES[-1], entropy=1,
                                   levy_area_approximation="space-time")
    _, time_integral = bm(0.0, 1.0, return_U=True)
    y0 = torch.zeros(BATCH, 2, dtype=torch.float64)
    errors = [(_sde_solve(method, IntegratedBrownianMotion(), y0, bm, h)[:, 1] - time_integral[:, 0]).abs().mean().item()
              for h in STEP_SIZES]
    declared = float(capabilities("sde")[method].order.split(" / ")[1])
    assert abs(_fitted_order(STEP_SIZES, errors) - declared) <= 0.25


@pytest.mark.parametrize("method", ["reversible_midpoint", "reversible_ralston3", "reversible_rk4"])
def test_reversible_runge_kutta_strong_order_with_noncommutative_noise(method):
    bm = torchsde.BrownianInterval(0.0, 1.0, size=(BATCH, 2), dtype=torch.float64, dt=2.0**-12, entropy=3)
    y0 = torch.zeros(BATCH, 3, dtype=torch.float64)
    reference = _sde_solve(method, LevyArea(), y0, bm, 2.0**-12)
    errors = [(_sde_solve(method, LevyArea(), y0, bm, h) - reference).norm(dim=-1).mean().item() for h in STEP_SIZES]
    declared = float(capabilities("sde")[method].order.split(" / ")[0])
    assert abs(_fitted_order(STEP_SIZES, errors) - declared) <= 0.25

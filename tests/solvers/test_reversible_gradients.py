"""Acceptance 1: gradient="reversible" equals gradient="direct" through the same discretisation (float64)."""

import pytest
import torch

from sdegan.solvers import cdeint, make_brownian, odeint, sdeint
from tests.solvers.solver_problems import CDEFunc, NeuralSDE, ODEFunc, linear_path

REVERSIBLE_METHODS = ["reversible_heun", "reversible_euler", "reversible_midpoint", "reversible_ralston3", "reversible_rk4"]
NOISE_TYPES = ["general", "diagonal", "additive", "scalar"]
TOLERANCE = 1e-9


def _loss(ys):
    return (ys**2).sum() + ys.sin().sum()


def _max_relative_difference(grads_a, grads_b):
    return max(((a - b).abs().max() / b.abs().max()).item() for a, b in zip(grads_a, grads_b))


def _gradients(solve, inputs):
    return torch.autograd.grad(_loss(solve()), inputs)


@pytest.mark.parametrize("noise_type", NOISE_TYPES)
@pytest.mark.parametrize("method", REVERSIBLE_METHODS)
def test_sde_reversible_equals_direct(method, noise_type):
    if method == "reversible_euler" and noise_type != "additive":
        pytest.skip("reversible_euler solves Stratonovich SDEs with additive noise only")
    torch.manual_seed(0)
    sde = NeuralSDE(state=16, noise=3, width=16, noise_type=noise_type).double()  # the sde_gan generator's sizes
    y0 = torch.randn(8, 16, dtype=torch.float64, requires_grad=True)
    ts = torch.linspace(0, 6, 4, dtype=torch.float64)
    size = (8, 16 if noise_type == "diagonal" else sde.brownian_size)
    bm = make_brownian("interval", 0.0, 6.0, size, torch.float64, y0.device, dt=0.5)
    inputs = [y0, *sde.parameters()]
    kwargs = dict(method=method, brownian=bm, dt=0.5)
    direct = _gradients(lambda: sdeint(sde, y0, ts, gradient="direct", **kwargs), inputs)
    reversible = _gradients(lambda: sdeint(sde, y0, ts, gradient="reversible", **kwargs), inputs)
    assert _max_relative_difference(reversible, direct) <= TOLERANCE


@pytest.mark.parametrize("method", REVERSIBLE_METHODS)
def test_cde_reversible_equals_direct_including_path_coefficients(method):
    torch.manual_seed(0)
    func = CDEFunc(hidden=8, channels=3).double()
    coeffs, path = linear_path(batch=8, length=7, channels=3)
    z0 = torch.randn(8, 8, dtype=torch.float64, requires_grad=True)
    ts = torch.arange(7, dtype=torch.float64)
    inputs = [z0, coeffs, *func.parameters()]
    direct = _gradients(lambda: cdeint(func, z0, path, ts, method=method, gradient="direct", dt=0.5), inputs)
    reversible = _gradients(lambda: cdeint(func, z0, path, ts, method=method, gradient="reversible", dt=0.5), inputs)
    assert reversible[1].abs().max() > 0  # the path's coefficients do receive a gradient
    assert _max_relative_difference(reversible, direct) <= TOLERANCE


@pytest.mark.parametrize("method", REVERSIBLE_METHODS)
def test_ode_reversible_equals_direct(method):
    torch.manual_seed(0)
    func = ODEFunc(state=8).double()
    y0 = torch.randn(8, 8, dtype=torch.float64, requires_grad=True)
    ts = torch.linspace(0, 3, 4, dtype=torch.float64)
    inputs = [y0, *func.parameters()]
    direct = _gradients(lambda: odeint(func, y0, ts, method=method, gradient="direct", dt=0.25), inputs)
    reversible = _gradients(lambda: odeint(func, y0, ts, method=method, gradient="reversible", dt=0.25), inputs)
    assert _max_relative_difference(reversible, direct) <= TOLERANCE


def test_reversible_gradient_reaches_adjoint_params():
    torch.manual_seed(0)
    func = ODEFunc(state=4).double()
    scale = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)

    class Scaled(torch.nn.Module):
        def forward(self, t, y):
            return scale * func(t, y)

    y0 = torch.randn(3, 4, dtype=torch.float64)
    ts = torch.linspace(0, 1, 3, dtype=torch.float64)
    kwargs = dict(method="reversible_heun", dt=0.1, adjoint_params=(scale, *func.parameters()))
    direct = _gradients(lambda: odeint(Scaled(), y0, ts, gradient="direct", **kwargs), [scale])
    reversible = _gradients(lambda: odeint(Scaled(), y0, ts, gradient="reversible", **kwargs), [scale])
    assert _max_relative_difference(reversible, direct) <= TOLERANCE

"""Every gradient choice of a method solves the same discretisation on the same grid: in float64, on
non-dyadic grids, ``adjoint`` and ``reversible`` equal direct backpropagation to round-off, or are refused."""

import pytest
import torch

from sdegan.errors import ConfigurationError
from sdegan.solvers import cdeint, make_brownian, odeint, sdeint
from tests.solvers.solver_problems import CDEFunc, NeuralSDE, ODEFunc, linear_path

NON_DYADIC = [(torch.arange(9, dtype=torch.float64), 0.1), (torch.linspace(0.3, 2.1, 37, dtype=torch.float64), 0.0125)]
REVERSIBLE = ["reversible_heun", "reversible_midpoint", "reversible_rk4"]


def _max_relative_difference(grads_a, grads_b):
    return max(((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item() for a, b in zip(grads_a, grads_b))


def _gradients(solve, inputs):
    ys = solve()
    return torch.autograd.grad((ys**2).sum() + ys.sin().sum(), inputs)


@pytest.mark.parametrize("ts,dt", NON_DYADIC)
@pytest.mark.parametrize("method", REVERSIBLE)
def test_sde_gradients_agree_on_non_dyadic_grids(method, ts, dt):
    torch.manual_seed(0)
    sde = NeuralSDE(state=4, noise=2, width=8).double()
    y0 = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    bm = make_brownian("interval", float(ts[0]), float(ts[-1]), (3, 2), torch.float64, y0.device, dt=dt)
    inputs = [y0, *sde.parameters()]
    grads = {gradient: _gradients(lambda: sdeint(sde, y0, ts, method=method, gradient=gradient, brownian=bm, dt=dt),
                                  inputs)
             for gradient in ("direct", "reversible", "adjoint")}
    # before: reversible Heun's adjoint (torchsde's adjoint_reversible_heun on torchsde's grid) was 8.3e-4 off
    # here with ts = arange(9), dt = 0.1, and 4.0e-4 on the linspace grid; the others were refused
    assert _max_relative_difference(grads["adjoint"], grads["direct"]) <= 1e-9
    assert _max_relative_difference(grads["reversible"], grads["direct"]) <= 1e-9


@pytest.mark.parametrize("method", REVERSIBLE)
def test_cde_and_ode_gradients_agree_on_non_dyadic_grids(method):
    ts, dt = torch.linspace(0.3, 2.1, 37, dtype=torch.float64), 0.0125
    torch.manual_seed(0)
    func = CDEFunc(hidden=4, channels=3, width=8).double()
    coeffs, path = linear_path(batch=2, length=4, channels=3)
    z0 = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    inputs = [z0, coeffs, *func.parameters()]
    cde = {gradient: _gradients(lambda: cdeint(func, z0, path, ts, method=method, gradient=gradient, dt=dt), inputs)
           for gradient in ("direct", "reversible", "adjoint")}
    assert _max_relative_difference(cde["adjoint"], cde["direct"]) <= 1e-9
    assert _max_relative_difference(cde["reversible"], cde["direct"]) <= 1e-9
    ode_func = ODEFunc(state=4, width=8).double()
    inputs = [z0, *ode_func.parameters()]
    ode = {gradient: _gradients(lambda: odeint(ode_func, z0, ts, method=method, gradient=gradient, dt=dt), inputs)
           for gradient in ("direct", "adjoint")}
    assert _max_relative_difference(ode["adjoint"], ode["direct"]) <= 1e-9


@pytest.mark.parametrize("problem,method", [("sde", "midpoint"), ("sde", "milstein"), ("cde", "rk4"), ("ode", "euler")])
def test_inexact_adjoints_are_refused(problem, method):
    ts, dt = torch.arange(9, dtype=torch.float64), 0.1
    with pytest.raises(ConfigurationError, match="continuous adjoint would not give the gradient"):
        if problem == "sde":
            sdeint(NeuralSDE(state=4, noise=2).double(), torch.zeros(3, 4, dtype=torch.float64), ts, method=method,
                   gradient="adjoint", dt=dt)
        elif problem == "cde":
            _, path = linear_path(batch=2, length=9, channels=3)
            cdeint(CDEFunc(hidden=4).double(), torch.zeros(2, 4, dtype=torch.float64), path, ts, method=method,
                   gradient="adjoint", dt=dt)
        else:
            odeint(ODEFunc(state=4).double(), torch.zeros(2, 4, dtype=torch.float64), ts, method=method,
                   gradient="adjoint", dt=dt)


@pytest.mark.parametrize("method", ["reversible_heun", "midpoint"])
def test_every_gradient_refuses_a_dt_that_does_not_divide(method):
    """Before, the adjoint path (and torchsde's methods) accepted it and solved another discretisation."""
    sde = NeuralSDE(state=4, noise=2).double()
    for gradient in ("direct", "adjoint", "reversible"):
        with pytest.raises(ConfigurationError, match="does not divide|not available"):
            sdeint(sde, torch.zeros(3, 4, dtype=torch.float64), torch.arange(3, dtype=torch.float64), method=method,
                   gradient=gradient, dt=0.3)

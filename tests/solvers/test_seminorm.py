"""Acceptance 6: our seminorm adjoint (over the state and its adjoint only) takes fewer backward evaluations than
the default norm and torchdiffeq's seminorm, with a gradient as accurate."""

import pytest
import torch
import torchcde
from torch import nn

from sdegan.solvers import cdeint, odeint
from sdegan.solvers.norms import NORMS, adjoint_seminorm
from tests.solvers.solver_problems import CDEFunc, ODEFunc, linear_path


class Counted(nn.Module):
    """Counts the calls of a vector field."""

    def __init__(self, func: nn.Module):
        super().__init__()
        self.func = func
        self.calls = 0

    def forward(self, t, y):
        self.calls += 1
        return self.func(t, y)


def _loss(ys):
    return (ys[-1] ** 2).sum()


def _relative_difference(a, b):
    return max(((x - y).abs().max() / y.abs().max()).item() for x, y in zip(a, b))


def _adjoint_run(func, solve, inputs, norm):
    counted = Counted(func)
    ys = solve(counted, dict(gradient="adjoint", norm=norm))
    forward_calls = counted.calls
    grads = torch.autograd.grad(_loss(ys), inputs)
    return grads, counted.calls - forward_calls


def _check_seminorm(func, solve, inputs):
    """Ours takes fewer backward evaluations than both other norms; every norm's gradient is close to direct."""
    direct = torch.autograd.grad(_loss(solve(func, dict(gradient="direct"))), inputs)
    backward_evaluations = {}
    for norm in NORMS:
        grads, backward_evaluations[norm] = _adjoint_run(func, solve, inputs, norm)
        assert _relative_difference(grads, direct) <= 1e-3, norm
    assert backward_evaluations["seminorm"] < backward_evaluations["torchdiffeq_seminorm"], backward_evaluations
    assert backward_evaluations["seminorm"] < backward_evaluations["default"], backward_evaluations


def test_seminorm_measures_the_state_and_its_adjoint_only():
    y, adjoint_y = torch.full((3, 2), 2.0), torch.full((4,), 3.0)
    accumulators = torch.tensor(100.0), torch.full((5,), 50.0)  # vjp_t and a parameter adjoint
    assert adjoint_seminorm((accumulators[0], y, adjoint_y, accumulators[1])).item() == 3.0


def test_seminorm_neural_ode():
    torch.manual_seed(0)
    func = ODEFunc(state=8, width=32).double()
    y0 = torch.randn(16, 8, dtype=torch.float64)
    ts = torch.tensor([0.0, 2.0], dtype=torch.float64)
    inputs = [*func.parameters()]

    def solve(f, kwargs):
        return odeint(f, y0, ts, method="dopri5", rtol=1e-6, atol=1e-8, **kwargs)

    _check_seminorm(func, solve, inputs)


def test_seminorm_neural_cde_over_a_cubic_spline():
    """A CDE's vector field depends on t through dX/dt, so vjp_t grows and torchdiffeq's seminorm, which still
    measures it, saves little; ours does not measure it."""
    torch.manual_seed(0)
    func = CDEFunc(hidden=4, channels=3, width=16).double()
    generator = torch.Generator().manual_seed(0)
    times = torch.linspace(0, 1, 8, dtype=torch.float64).expand(4, 8).unsqueeze(-1)
    values = torch.randn(4, 8, 2, generator=generator, dtype=torch.float64).cumsum(1) * 0.3
    path = torchcde.CubicSpline(torchcde.natural_cubic_coeffs(torch.cat([times, values], dim=-1)))
    z0 = torch.randn(4, 4, dtype=torch.float64)
    inputs = [*func.parameters()]

    def solve(f, kwargs):
        return cdeint(f, z0, path, path.interval, method="dopri5", rtol=1e-6, atol=1e-8, **kwargs)

    _check_seminorm(func, solve, inputs)


def test_cde_adjoint_gradients_reach_the_path_and_match_direct():
    """The CDE adjoint's gradients with the seminorm, path coefficients included."""
    torch.manual_seed(0)
    func = CDEFunc(hidden=4, channels=3, width=8).double()
    coeffs, _ = linear_path(batch=4, length=4, channels=3)
    z0 = torch.randn(4, 4, dtype=torch.float64)
    ts = torch.tensor([0.0, 3.0], dtype=torch.float64)
    inputs = [coeffs, *func.parameters()]

    def gradients(**kwargs):
        path = torchcde.LinearInterpolation(coeffs)
        zs = cdeint(func, z0, path, ts, method="dopri5", rtol=1e-7, atol=1e-9, **kwargs)
        return torch.autograd.grad(_loss(zs), inputs)

    direct = gradients(gradient="direct")
    adjoint = gradients(gradient="adjoint", norm="seminorm", adjoint_params=(coeffs,))
    assert _relative_difference(adjoint, direct) <= 1e-2  # measured 1.5e-3: the knots limit the adjoint
    with pytest.raises(ValueError, match="adjoint_params"):
        gradients(gradient="adjoint")

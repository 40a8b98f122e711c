"""Adaptive CDE solves over a linear interpolation get its knots as ``jump_t`` automatically (forward and
backward); users can pass torchdiffeq solver options."""

import pytest
import torch
import torchcde

from sdegan.errors import ConfigurationError
from sdegan.solvers import cdeint
from tests.solvers.solver_problems import CDEFunc


class Counted(torch.nn.Module):
    def __init__(self, func):
        super().__init__()
        self.func, self.calls = func, 0

    def forward(self, t, z):
        self.calls += 1
        return self.func(t, z)


def _evaluations(gradient, method="dopri5", **kwargs):
    torch.manual_seed(0)
    func = Counted(CDEFunc(hidden=8, channels=3, width=16).double())
    data = torch.randn(4, 30, 3, dtype=torch.float64).cumsum(1)
    data[..., 0] = torch.arange(30, dtype=torch.float64)
    coeffs = torchcde.linear_interpolation_coeffs(data).requires_grad_(True)
    path = torchcde.LinearInterpolation(coeffs)
    z0 = torch.zeros(4, 8, dtype=torch.float64)
    adjoint_params = (coeffs,) if gradient == "adjoint" else ()
    if method == "dopri5":
        kwargs.update(rtol=1e-4, atol=1e-6)
    zs = cdeint(func, z0, path, path.interval, method=method, gradient=gradient, adjoint_params=adjoint_params,
                **kwargs)
    forward = func.calls
    zs[-1].sum().backward()
    return forward, func.calls - forward, coeffs.grad


@pytest.mark.parametrize("gradient,norm", [("direct", "default"), ("adjoint", "seminorm")])
def test_knots_are_passed_as_jump_t(gradient, norm):
    """Before: no knots (what ``jump_t=[]`` restores): here 4341 forward evaluations instead of 230, and with
    the seminorm adjoint 4334 backward instead of 1331."""
    forward, backward, grads = _evaluations(gradient, norm=norm)
    no_knots = _evaluations(gradient, norm=norm, options=dict(jump_t=torch.tensor([], dtype=torch.float64)))
    assert forward * 10 < no_knots[0]
    if gradient == "adjoint":
        assert backward * 2 < no_knots[1]
    _, _, reference = _evaluations("direct", method="rk4", dt=0.05)  # knots on its grid: only round-off errors
    tolerance = 1e-2 if gradient == "direct" else 5e-2  # the continuous adjoint: measured 2.1e-2 at these tolerances
    assert ((grads - reference).abs().max() / reference.abs().max()).item() < tolerance


def test_solver_options_are_checked():
    with pytest.raises(ConfigurationError, match="unknown solver options.*valid options: first_step"):
        _evaluations("direct", options=dict(jumps=[1.0]))

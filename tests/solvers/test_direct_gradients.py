"""gradient="direct" is ordinary autograd: it supports double backward (the gradient-penalty recipe needs it)."""

import pytest
import torch
import torchcde

from sdegan.solvers import cdeint, odeint
from tests.solvers.solver_problems import CDEFunc, ODEFunc, linear_path


@pytest.mark.parametrize("method", ["midpoint", "reversible_heun"])
def test_cde_direct_supports_double_backward(method):
    torch.manual_seed(0)
    func = CDEFunc(hidden=2, channels=2, width=4).double()
    coeffs, _ = linear_path(batch=2, length=3, channels=2)
    z0 = torch.randn(2, 2, dtype=torch.float64)
    ts = torch.arange(3, dtype=torch.float64)

    def score(c):
        return cdeint(func, z0, torchcde.LinearInterpolation(c), ts, method=method, gradient="direct")[-1].sum()

    assert torch.autograd.gradgradcheck(score, (coeffs,))


def test_reversible_gradient_refuses_double_backward():
    func = ODEFunc(state=2, width=4).double()
    y0 = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    ys = odeint(func, y0, torch.tensor([0.0, 1.0], dtype=torch.float64), method="reversible_heun",
                gradient="reversible", dt=0.5)
    with pytest.raises(RuntimeError, match="does not support double backward"):
        torch.autograd.grad(ys.sum(), y0, create_graph=True)

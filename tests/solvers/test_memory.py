"""Acceptance 4: bytes saved for backward are flat in the number of steps for gradient="reversible"."""

import pytest
import torch
import torchcde

from sdegan.solvers import cdeint, make_brownian, odeint, sdeint
from tests.solvers.solver_problems import CDEFunc, NeuralSDE, ODEFunc


class TabulatedBrownian:
    """Brownian increments on an integer grid, looked up (cheap, so 4096-step solves stay fast)."""

    def __init__(self, num_steps: int, batch: int, channels: int):
        self.increments = torch.randn(num_steps, batch, channels, generator=torch.Generator().manual_seed(0))

    def __call__(self, ta: float, tb: float) -> torch.Tensor:
        assert tb == ta + 1.0
        return self.increments[int(ta)]


def _saved_bytes(solve, backward: bool = False) -> int:
    total = 0

    def pack(tensor):
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        ys = solve()
    if backward:
        ys.sum().backward()  # what was saved is enough for the backward pass
    return total


def _sde_solve(num_steps: int, gradient: str, method: str, brownian: str):
    def solve():
        torch.manual_seed(0)
        sde = NeuralSDE(state=4, noise=2, width=4, noise_type="general")
        y0 = torch.randn(2, 4, requires_grad=True)
        ts = torch.tensor([0.0, float(num_steps)])
        if brownian == "table":
            bm = TabulatedBrownian(num_steps, 2, 2)
        else:
            bm = make_brownian(brownian, 0.0, float(num_steps), (2, 2), y0.dtype, y0.device, dt=1.0)
        return sdeint(sde, y0, ts, method=method, gradient=gradient, brownian=bm, dt=1.0)

    return solve


def _ode_solve(num_steps: int, gradient: str, method: str):
    def solve():
        torch.manual_seed(0)
        func = ODEFunc(state=4, width=4)
        y0 = torch.randn(2, 4, requires_grad=True)
        ts = torch.tensor([0.0, 1.0])
        return odeint(func, y0, ts, method=method, gradient=gradient, dt=1.0 / num_steps)

    return solve


def _check_flat_and_linear(make_solve, direct_steps=(64, 512)):
    """Reversible: flat from 64 to 4096 steps within 5%. Direct: proportional to the number of steps."""
    reversible_64 = _saved_bytes(make_solve(64, "reversible"), backward=True)
    reversible_4096 = _saved_bytes(make_solve(4096, "reversible"))
    assert reversible_64 > 0
    assert abs(reversible_4096 - reversible_64) <= 0.05 * reversible_64
    few, many = direct_steps
    direct_few, direct_many = (_saved_bytes(make_solve(n, "direct")) for n in direct_steps)
    assert direct_many / direct_few == pytest.approx(many / few, rel=0.05)
    assert direct_few > reversible_64


def test_reversible_heun_sde_memory_is_flat():
    _check_flat_and_linear(lambda n, gradient: _sde_solve(n, gradient, "reversible_heun", "table"))


def test_reversible_midpoint_ode_memory_is_flat():
    _check_flat_and_linear(lambda n, gradient: _ode_solve(n, gradient, "reversible_midpoint"))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["reversible_heun", "reversible_midpoint"])
def test_sde_memory_is_flat_with_brownian_interval(method):
    _check_flat_and_linear(lambda n, gradient: _sde_solve(n, gradient, method, "interval"), direct_steps=(64, 4096))


def _cde_solve(num_steps: int, gradient: str, method: str, kind: str):
    def solve():
        torch.manual_seed(0)
        func = CDEFunc(hidden=4, channels=3, width=4)
        z0 = torch.randn(2, 4, requires_grad=True)
        data = torch.randn(2, 5, 3).cumsum(1)
        if kind == "linear":
            path = torchcde.LinearInterpolation(torchcde.linear_interpolation_coeffs(data).requires_grad_(True))
        else:
            path = torchcde.CubicSpline(torchcde.natural_cubic_coeffs(data).requires_grad_(True))
        ts = torch.tensor([0.0, 4.0])
        return cdeint(func, z0, path, ts, method=method, gradient=gradient, dt=4.0 / num_steps)

    return solve


@pytest.mark.parametrize("kind", ["linear", "cubic"])
@pytest.mark.parametrize("method", ["reversible_heun", "reversible_midpoint"])
def test_reversible_cde_memory_is_flat(method, kind):
    """Before: the path increments were saved (13.9 kB at 64 steps, 206 kB at 1024 for reversible Heun)."""
    _check_flat_and_linear(lambda n, gradient: _cde_solve(n, gradient, method, kind))

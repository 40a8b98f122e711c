"""Acceptance 2: our reversible Heun agrees with torchsde's on the same Brownian sample, forward and backward."""

import pytest
import torch
import torchsde

from sdegan.errors import ConfigurationError

from sdegan.solvers import make_brownian, sdeint
from tests.solvers.solver_problems import NeuralSDE


def _setup(dtype):
    torch.manual_seed(0)
    sde = NeuralSDE(state=16, noise=3, width=16, noise_type="general").to(dtype)
    y0 = torch.randn(32, 16, dtype=dtype, requires_grad=True)
    ts = torch.linspace(0, 15, 16, dtype=dtype)
    bm = make_brownian("interval", 0.0, 15.0, (32, 3), dtype, y0.device, dt=1.0)
    return sde, y0, ts, bm


def test_forward_matches_torchsde_float32():
    sde, y0, ts, bm = _setup(torch.float32)
    with torch.no_grad():
        ours = sdeint(sde, y0, ts, method="reversible_heun", gradient="reversible", brownian=bm, dt=1.0)
        theirs = torchsde.sdeint(sde, y0, ts, bm=bm, method="reversible_heun", dt=1.0)
    assert ours.shape == theirs.shape
    # The two differ only in the order of floating-point additions: a few float32 ulps of the solution's scale.
    assert ((ours - theirs).abs().max() / theirs.abs().max()).item() <= 1e-6


def _grads(ys, sde, y0):
    loss = (ys**2).sum() + ys.sin().sum()
    return torch.autograd.grad(loss, [y0, *sde.parameters()])


def _max_relative_difference(grads_a, grads_b):
    return max(((a - b).abs().max() / b.abs().max()).item() for a, b in zip(grads_a, grads_b))


def test_direct_gradients_match_torchsde_direct():
    sde, y0, ts, bm = _setup(torch.float64)
    ours = _grads(sdeint(sde, y0, ts, method="reversible_heun", gradient="direct", brownian=bm, dt=1.0), sde, y0)
    theirs = _grads(torchsde.sdeint(sde, y0, ts, bm=bm, method="reversible_heun", dt=1.0), sde, y0)
    assert _max_relative_difference(ours, theirs) <= 1e-10


def test_reversible_and_adjoint_gradients_match_torchsde_adjoint():
    sde, y0, ts, bm = _setup(torch.float64)
    theirs = _grads(
        torchsde.sdeint_adjoint(
            sde, y0, ts, bm=bm, method="reversible_heun", adjoint_method="adjoint_reversible_heun", dt=1.0
        ),
        sde,
        y0,
    )
    reversible = _grads(sdeint(sde, y0, ts, method="reversible_heun", gradient="reversible", brownian=bm, dt=1.0), sde, y0)
    adjoint = _grads(sdeint(sde, y0, ts, method="reversible_heun", gradient="adjoint", brownian=bm, dt=1.0), sde, y0)
    assert _max_relative_difference(reversible, theirs) <= 1e-9
    assert _max_relative_difference(adjoint, theirs) <= 1e-12


@pytest.mark.parametrize("method", ["midpoint", "heun", "euler_heun"])
def test_torchsde_methods_step_on_our_grid_like_torchsde(method):
    """On a grid torchsde builds exactly (dyadic steps), torchsde's solvers stepped on our grid give torchsde's
    own solution and gradients."""
    sde, y0, ts, bm = _setup(torch.float64)
    ours = _grads(sdeint(sde, y0, ts, method=method, gradient="direct", brownian=bm, dt=0.25), sde, y0)
    theirs = _grads(torchsde.sdeint(sde, y0, ts, bm=bm, method=method, dt=0.25), sde, y0)
    assert _max_relative_difference(ours, theirs) <= 1e-12


def test_torchsde_methods_hit_non_dyadic_output_times():
    """torchsde's own loop adds dt repeatedly and interpolates to output times; ours steps exactly onto them,
    so a solve over [0, 8] with dt = 0.1 equals the eight solves over each unit interval, chained."""
    torch.manual_seed(0)
    sde = NeuralSDE(state=4, noise=2, width=8).double()
    y0 = torch.randn(3, 4, dtype=torch.float64)
    ts = torch.arange(9, dtype=torch.float64)
    bm = make_brownian("interval", 0.0, 8.0, (3, 2), torch.float64, y0.device, dt=0.1)
    with torch.no_grad():
        whole = sdeint(sde, y0, ts, method="midpoint", gradient="direct", brownian=bm, dt=0.1)
        y, pieces = y0, [y0]
        for start in range(8):
            piece = torch.tensor([start, start + 1.0], dtype=torch.float64)
            y = sdeint(sde, y, piece, method="midpoint", gradient="direct", brownian=bm, dt=0.1)[-1]
            pieces.append(y)
    assert (whole - torch.stack(pieces)).abs().max().item() <= 1e-12


def test_continuous_adjoint_of_torchsde_methods_is_refused():
    """Its gradient is not that of the discretisation (1.2e-2 off direct backprop for midpoint at dt = 0.25)."""
    sde, y0, ts, bm = _setup(torch.float64)
    with pytest.raises(ConfigurationError, match="continuous adjoint would not give the gradient.*reversible_heun"):
        sdeint(sde, y0, ts, method="midpoint", gradient="adjoint", brownian=bm, dt=0.25)

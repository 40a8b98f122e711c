"""Increments of a linear interpolation whose knots are the step times come straight from its coefficients:
bit-identical values to differencing torchcde's ``evaluate`` at the knots (which other grids use), and the same
gradients up to the order in which each coefficient's contributions are summed."""

import pytest
import torch
import torchcde

from sdegan.solvers.controls import PathControl, knot_increments, path_values
from sdegan.solvers.grid import make_step_grid, step_grid_from_floats


def _evaluated_increments(path, times, batch):
    values = path_values(path.evaluate, times, batch)
    return values[1:] - values[:-1]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("uniform", [True, False])
def test_knot_increments_are_bit_identical_to_torchcde(dtype, uniform):
    generator = torch.Generator().manual_seed(0)
    batch, length = 33, 17
    if uniform:
        knots = torch.linspace(0, length - 1, length, dtype=dtype)
    else:
        knots = torch.rand(length, generator=generator, dtype=dtype).add_(0.1).cumsum(0) * 3.7
    coefficients = torch.randn(batch, length, 3, generator=generator, dtype=dtype).mul_(100).requires_grad_(True)
    path = torchcde.LinearInterpolation(coefficients, knots)

    fast = knot_increments(knots, coefficients)
    reference = _evaluated_increments(path, knots, batch)
    assert torch.equal(fast, reference)

    upstream = torch.randn(fast.shape, generator=generator, dtype=dtype)
    (fast_grad,) = torch.autograd.grad(fast, coefficients, upstream)
    (reference_grad,) = torch.autograd.grad(reference, coefficients, upstream)
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(fast_grad, reference_grad, rtol=16 * eps, atol=16 * eps * upstream.abs().max())


def test_path_control_takes_the_coefficients_only_when_knots_are_the_step_times():
    coefficients = torch.randn(4, 6, 2, dtype=torch.float64)
    path = torchcde.LinearInterpolation(coefficients)
    on_knots = PathControl(path, make_step_grid(torch.tensor([0.0, 5.0], dtype=torch.float64), 1.0), (0.0, 1.0), 4,
                           torch.float64, torch.device("cpu"))
    assert on_knots.knots_are_steps
    assert torch.equal(on_knots.steps, _evaluated_increments(path, on_knots.grid.times_on(torch.float64, "cpu"), 4))

    finer_grid = step_grid_from_floats([0.0, 5.0], 0.5, "divide", torch.finfo(torch.float64).eps)
    finer = PathControl(path, finer_grid, (0.0, 1.0), 4, torch.float64, torch.device("cpu"))
    assert not finer.knots_are_steps
    halves = coefficients.diff(dim=1).transpose(0, 1).repeat_interleave(2, dim=0) / 2
    torch.testing.assert_close(finer.steps, halves)

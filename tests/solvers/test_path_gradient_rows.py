"""``path_gradient_rows``: a CDE solve asked for the path gradients of its leading paths only must give exactly
those of the full solve for them, zero for the others, and the same parameter gradients (float64)."""

import pytest
import torch
import torchcde
from torch import nn

from sdegan.errors import ConfigurationError
from sdegan.solvers import SolveSpec

BATCH, ROWS, LENGTH, HIDDEN = 6, 4, 7, 5


class Field(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.linear = nn.Linear(1 + HIDDEN, HIDDEN * channels)
        self.channels = channels

    def forward(self, t, z):
        tz = torch.cat([t.expand(z.size(0), 1), z], dim=1)
        return torch.tanh(self.linear(tz)).view(z.size(0), HIDDEN, self.channels)


def _path(kind: str, coefficients_of: torch.Tensor):
    return torchcde.LinearInterpolation(coefficients_of) if kind == "linear" else torchcde.CubicSpline(coefficients_of)


@pytest.mark.parametrize("method", ["reversible_heun", "reversible_midpoint"])
@pytest.mark.parametrize("kind", ["linear", "cubic"])
def test_leading_rows_get_the_full_solves_gradients(method, kind):
    torch.manual_seed(0)
    data = torch.randn(BATCH, LENGTH, 3, dtype=torch.float64).cumsum(1)
    data[..., 0] = torch.arange(LENGTH, dtype=torch.float64)
    coefficients = data if kind == "linear" else torchcde.natural_cubic_coeffs(data)
    field = Field(3).double()
    z0 = torch.randn(BATCH, HIDDEN, dtype=torch.float64)
    spec = SolveSpec.build("cde", method=method, gradient="reversible", dt=0.5,
                           times=torch.tensor([0.0, LENGTH - 1.0], dtype=torch.float64))

    def gradients(rows):
        leaf = coefficients.clone().requires_grad_(True)
        zs = spec.solve(field, z0, _path(kind, leaf), path_gradient_rows=rows)
        return torch.autograd.grad(zs[-1].square().sum(), [leaf, *field.parameters()])

    full, partial = gradients(None), gradients(ROWS)
    torch.testing.assert_close(partial[0][:ROWS], full[0][:ROWS], rtol=1e-12, atol=1e-14)
    assert full[0][ROWS:].abs().amax() > 0 and partial[0][ROWS:].abs().amax() == 0
    for got, expected in zip(partial[1:], full[1:]):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("rows", [-1, BATCH + 1])
def test_rows_outside_the_batch_are_refused(rows):
    spec = SolveSpec.build("cde", method="reversible_heun", gradient="reversible", dt=1.0,
                           times=torch.tensor([0.0, 2.0]))
    path = torchcde.LinearInterpolation(torch.randn(BATCH, 3, 2))
    with pytest.raises(ConfigurationError, match="path_gradient_rows must be between 0 and the batch size"):
        spec.solve(Field(2), torch.zeros(BATCH, HIDDEN), path, path_gradient_rows=rows)

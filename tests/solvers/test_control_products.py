"""The two ways of forming ``g dX`` (dense 0/1-matrix products for small ``g``, batched products for large
``g``) give the same solutions and exact reversible gradients, and a Brownian object that refills one
buffer in place is never served a stale cached product."""

import pytest
import torch

from sdegan.solvers import make_brownian, sdeint
from sdegan.solvers.vector_fields import _MatrixControlProducts
from tests.solvers.solver_problems import NeuralSDE
from tests.solvers.test_reversible_gradients import TOLERANCE, _gradients, _max_relative_difference


@pytest.mark.parametrize("state,noise", [(16, 3), (32, 8)])
def test_reversible_equals_direct_on_both_product_paths(state, noise):
    uses_dense = state * noise <= _MatrixControlProducts.DENSE_MAX_ENTRIES
    assert uses_dense == (state * noise == 48)  # one case per path
    torch.manual_seed(1)
    sde = NeuralSDE(state=state, noise=noise, width=16).double()
    y0 = torch.randn(6, state, dtype=torch.float64, requires_grad=True)
    ts = torch.linspace(0, 4, 3, dtype=torch.float64)
    bm = make_brownian("interval", 0.0, 4.0, (6, noise), torch.float64, y0.device, dt=0.5)
    inputs = [y0, *sde.parameters()]
    kwargs = dict(method="reversible_heun", brownian=bm, dt=0.5)
    direct = _gradients(lambda: sdeint(sde, y0, ts, gradient="direct", **kwargs), inputs)
    reversible = _gradients(lambda: sdeint(sde, y0, ts, gradient="reversible", **kwargs), inputs)
    assert _max_relative_difference(reversible, direct) <= TOLERANCE


def test_dense_and_batched_products_agree():
    torch.manual_seed(2)
    products = _MatrixControlProducts()
    g = torch.randn(5, 4, 3, dtype=torch.float64)
    dx = torch.randn(5, 3, dtype=torch.float64)
    base = torch.randn(5, 4, dtype=torch.float64)
    expected = base + 0.5 * torch.bmm(g, dx.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(products.add_product(base, g, dx, 0.5, 1.0), expected, rtol=1e-14, atol=1e-14)


class InPlaceBrownian:
    """Returns the increment in one reused buffer, refilled in place at every query."""

    def __init__(self, inner):
        self.inner = inner
        self.buffer = None

    def __call__(self, ta, tb):
        increment = self.inner(ta, tb)
        if self.buffer is None:
            self.buffer = increment.clone()
        else:
            self.buffer.copy_(increment)
        return self.buffer


@pytest.mark.parametrize("gradient", ["direct", "reversible"])
def test_brownian_reusing_its_buffer_gives_the_same_solution(gradient):
    torch.manual_seed(3)
    sde = NeuralSDE(state=16, noise=3, width=16).double()
    y0 = torch.randn(4, 16, dtype=torch.float64)
    ts = torch.linspace(0, 4, 5, dtype=torch.float64)
    bm = make_brownian("interval", 0.0, 4.0, (4, 3), torch.float64, y0.device, dt=0.5)
    fresh = sdeint(sde, y0, ts, method="reversible_heun", gradient=gradient, brownian=bm, dt=0.5)
    reused = sdeint(sde, y0, ts, method="reversible_heun", gradient=gradient, brownian=InPlaceBrownian(bm), dt=0.5)
    torch.testing.assert_close(reused, fresh, rtol=0, atol=1e-12)

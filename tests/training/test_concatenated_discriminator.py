"""The discriminator scores generated and real paths in ONE solve of the concatenated batch: the Wasserstein
estimate and its gradients must equal those of two separate solves (float64), for every gradient choice."""

import pytest
import torch

from sdegan.errors import ConfigurationError
from sdegan.models import Discriminator, Generator
from sdegan.models.solve_options import solve_spec

TIMES = torch.linspace(0.0, 5.0, 6, dtype=torch.float64)


def _paths(batch: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    values = torch.randn(batch, len(TIMES), 2, generator=generator, dtype=torch.float64).cumsum(1)
    values[0, 2, 1] = float("nan")  # a missing value, filled before the solve
    return torch.cat([TIMES.expand(batch, -1).unsqueeze(-1), values], dim=-1)


@pytest.mark.parametrize("gradient", ["reversible", "direct"])
def test_one_solve_equals_two_solves(gradient):
    torch.manual_seed(0)
    discriminator = Discriminator(2, hidden_size=8, width=8).double()
    generator = Generator(2, 3, 2, 8, 8, 1, "lipswish", 3.0, 0.5).double()
    options = solve_spec("cde", {"method": "reversible_heun", "gradient": gradient, "dt": 0.5},
                         torch.tensor([0.0, len(TIMES) - 1.0], dtype=torch.float64))
    sde_options = solve_spec("sde", {"method": "reversible_heun", "gradient": "reversible", "dt": 0.5,
                                     "brownian": "grid"}, TIMES)
    real = _paths(5, seed=1)
    parameters = [*discriminator.parameters(), *generator.parameters()]

    def loss_and_gradients(together: bool):
        torch.manual_seed(3)
        fake = generator(TIMES, 7, sde_options)  # another batch size than real's
        if together:
            loss = discriminator.wasserstein(fake, real, options)
        else:
            loss = discriminator(fake, options).mean() - discriminator(real, options).mean()
        return loss, torch.autograd.grad(loss, parameters)

    loss, gradients = loss_and_gradients(together=True)
    expected_loss, expected_gradients = loss_and_gradients(together=False)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-12, atol=1e-14)
    for got, expected in zip(gradients, expected_gradients):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-13)


def test_paths_of_different_lengths_are_refused():
    discriminator = Discriminator(2, hidden_size=4, width=4).double()
    options = {"method": "reversible_heun", "gradient": "reversible", "dt": 1.0}
    with pytest.raises(ConfigurationError, match="same length"):
        discriminator.wasserstein(_paths(2, 0), _paths(2, 1)[:, :4], options)


def test_real_paths_that_require_gradients_get_them():
    """The generated rows alone get path gradients only when the real ones need none."""
    torch.manual_seed(0)
    discriminator = Discriminator(2, hidden_size=8, width=8).double()
    options = {"method": "reversible_heun", "gradient": "reversible", "dt": 0.5}
    fake, real = _paths(3, seed=2), _paths(4, seed=1)
    real[0, 2, 1] = 0.5  # no missing value: the gradient reaches every entry
    fake_leaf, real_leaf = fake.clone().requires_grad_(True), real.clone().requires_grad_(True)
    together = torch.autograd.grad(discriminator.wasserstein(fake_leaf, real_leaf, options), [fake_leaf, real_leaf])
    separate = torch.autograd.grad(
        discriminator(fake_leaf, options).mean() - discriminator(real_leaf, options).mean(), [fake_leaf, real_leaf]
    )
    assert together[1].abs().amax() > 0
    for got, expected in zip(together, separate):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-13)

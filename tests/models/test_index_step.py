"""The discriminator's CDE runs over the observation index: a run's step in time units is converted so
that no step skips an observation, whatever the spacing of the data's time grid."""

import pytest
import torch

from sdegan.models import index_step
from sdegan.training import SDEGAN


@pytest.mark.parametrize(
    "spacing,dt,expected",
    [(1.0, 1.0, 1.0), (3.0, 3.0, 1.0), (3.0, 1.0, 1 / 3), (1.0, 0.5, 0.5), (0.25, 1.0, 1.0), (0.996, 1.0, 1.0)],
)
def test_index_step(spacing, dt, expected):
    times = torch.arange(6) * spacing
    assert index_step(times, dt) == pytest.approx(expected)
    assert index_step(times, None) is None


def test_sde_gan_discriminator_sees_every_observation_on_a_coarse_time_grid():
    times = torch.arange(6, dtype=torch.float32) * 3.0  # observations every 3 time units
    options = dict(method="reversible_heun", gradient="reversible", brownian="interval", dt=3.0, coupling=None)
    model = SDEGAN(data_channels=1, times=times, solve_options=options)
    assert model.discriminator_options.dt == 1.0
    assert model.solve_options["dt"] == 3.0
    paths = model.sample(4)
    scores = model.discriminator(paths, model.discriminator_options)  # dt=3 in index units would not divide [0, 5]
    assert scores.shape == (4,) and torch.isfinite(scores).all()

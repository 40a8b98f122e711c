"""Irregular data end to end: on the csv example (different times per series) generated paths carry the real
paths' times, so a classifier that sees only the time channel is at chance; the sampling contract."""

import pytest
import pytorch_lightning as pl
import torch

from sdegan.data import CSVDataModule
from sdegan.metrics import apply_missing_pattern, classification_accuracy
from sdegan.training import SDEGAN, LatentSDE
from tests.training.training_helpers import quiet_trainer, solve_options

CLASSIFIER = {"hidden_size": 8, "epochs": 15, "batch_size": 32, "lr": 1e-2}


@pytest.fixture(scope="module")
def irregular_data():
    datamodule = CSVDataModule(path="example", batch_size=16, seed=0)
    datamodule.setup()
    real = datamodule.train_paths[:96]
    assert not (real[..., 0] == real[:1, :, 0]).all()  # really irregular: times differ between series
    return datamodule, real


def _model(kind, datamodule):
    options = {**solve_options(), "dt": datamodule.dt}
    if kind == "sde_gan":
        return SDEGAN(datamodule.num_channels, datamodule.times, options, hidden_size=8, width=8, swa_start=None)
    return LatentSDE(datamodule.num_channels, datamodule.times, options, context_size=4, hidden_size=8, width=8)


def _time_only(paths):
    """The paths with their values replaced by their time increments: all a classifier sees is when the
    observations are (the increments make irregular spacing easy to spot)."""
    times = paths[..., 0]
    increments = torch.cat([torch.zeros_like(times[:, :1]), times.diff(dim=1)], dim=1)
    return torch.stack([times, increments], dim=-1)


@pytest.mark.parametrize("kind", ["sde_gan", "latent_sde"])
def test_a_classifier_given_only_times_is_at_chance(irregular_data, kind):
    datamodule, real = irregular_data
    torch.manual_seed(0)
    model = _model(kind, datamodule)
    generated = apply_missing_pattern(model.sample(len(real), real[..., 0]), real)
    assert torch.equal(generated[..., 0], real[..., 0])
    accuracy = classification_accuracy(_time_only(real), _time_only(generated), seed=0, **CLASSIFIER)
    assert abs(accuracy - 0.5) < 0.2  # 58 held-out paths: chance +- 3.5 standard deviations
    # On the regular generation grid (what every model sampled on before), time alone gives them away.
    on_grid = model.sample(len(real))
    accuracy_on_grid = classification_accuracy(_time_only(real), _time_only(on_grid), seed=0, **CLASSIFIER)
    assert accuracy_on_grid > 0.9


def test_sde_gan_training_compares_generated_and_real_paths_on_the_same_times(irregular_data, tmp_path):
    datamodule, _ = irregular_data
    pl.seed_everything(0)
    model = _model("sde_gan", datamodule)
    seen = []
    coefficients = model.discriminator.coefficients  # what both paths go through before the one solve

    def recording_coefficients(paths):
        seen.append(paths[..., 0].detach().clone())
        return coefficients(paths)

    model.discriminator.coefficients = recording_coefficients
    quiet_trainer(tmp_path, max_steps=1, limit_val_batches=0).fit(model, datamodule=datamodule)
    fake_times, real_times = seen[0], seen[1]  # mean D(fake) - mean D(real)
    assert torch.equal(fake_times, real_times)
    assert not (real_times == real_times[:1]).all()


def test_sample_follows_the_sampling_contract(irregular_data):
    datamodule, real = irregular_data
    torch.manual_seed(0)
    model = _model("sde_gan", datamodule)
    grid = model.sample(3)
    assert grid.shape == (3, len(datamodule.times), 2) and torch.equal(grid[..., 0], datamodule.times.expand(3, -1))
    shared = torch.tensor([0.0, 1.0, 3.0, 4.0])  # shared times: dt (here 1) must divide their intervals
    assert torch.equal(model.sample(3, shared)[..., 0], shared.expand(3, -1))
    per_path = real[:5, :, 0]
    chunked = model.sample(5, per_path, batch_size=2)  # several solves, each on its own chunk's times
    assert chunked.shape == (5, real.size(1), 2) and torch.equal(chunked[..., 0], per_path)
    with pytest.raises(ValueError, match="num_samples, length"):
        model.sample(4, per_path)
    with pytest.raises(ValueError, match="strictly increasing"):
        model.sample(2, per_path[:2].flip(1))

"""A user's own generator SDE and discriminator vector field, chosen by ``_target_`` inside the model config."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir
from torch import nn

from sdegan import builders
from sdegan.errors import ConfigurationError, input_error_cause
from tests.training.training_helpers import quiet_trainer
from sdegan.config_dir import CONFIG_DIR


class LinearNoiseSDE(nn.Module):
    """Drift ``-rate * x + a(t)``, diagonal-free general noise ``scale * B`` (a constant matrix): a tiny
    torchsde-style Stratonovich SDE."""

    sde_type = "stratonovich"
    noise_type = "general"

    def __init__(self, hidden_size: int, noise_size: int, rate: float = 0.5, scale: float = 0.1) -> None:
        super().__init__()
        self.rate = rate
        self.offset = nn.Linear(1, hidden_size)
        self.noise = nn.Parameter(scale * torch.randn(hidden_size, noise_size))
        self.calls = 0

    def f(self, t, x):
        self.calls += 1
        t = torch.as_tensor(t, dtype=x.dtype).expand(x.size(0), 1)
        return -self.rate * x + self.offset(t)

    def g(self, t, x):
        return self.noise.expand(x.size(0), -1, -1)


class BilinearField(nn.Module):
    """CDE vector field ``(t, h) -> tanh(W h) reshaped to (hidden, path_channels)``."""

    def __init__(self, hidden_size: int, path_channels: int) -> None:
        super().__init__()
        self.shape = (hidden_size, path_channels)
        self.linear = nn.Linear(hidden_size, hidden_size * path_channels)

    def forward(self, t, h):
        return torch.tanh(self.linear(h)).view(h.size(0), *self.shape)


def build(overrides: list[str]):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=["dataset.num_paths=40", "dataset.length=6",
                                                      "dataset.batch_size=8", *overrides])
    datamodule = builders.build_datamodule(cfg)
    return builders.build_model(cfg, datamodule), datamodule


def test_users_generator_sde_and_discriminator_field_from_the_model_config_train_and_sample(tmp_path):
    model, datamodule = build([
        f"+model.generator_vector_field._target_={__name__}.LinearNoiseSDE",
        "+model.generator_vector_field.rate=0.25",
        f"+model.discriminator_vector_field._target_={__name__}.BilinearField",
    ])
    field = model.generator.vector_field
    assert isinstance(field, LinearNoiseSDE) and field.rate == 0.25
    assert field.noise.shape == (model.hparams.hidden_size, model.hparams.noise_size)
    assert isinstance(model.discriminator.vector_field, BilinearField)
    before = field.offset.weight.detach().clone()
    quiet_trainer(tmp_path, max_steps=2).fit(model, datamodule=datamodule)
    assert field.calls > 0 and not torch.equal(field.offset.weight, before)  # solved and trained
    samples = model.sample(5)
    assert samples.shape == (5, len(datamodule.times), 2) and torch.isfinite(samples).all()


@pytest.mark.parametrize("override,message", [
    ("+model.generator_vector_field.rate=0.25", "model.generator_vector_field must be a mapping with a _target_"),
    ("+model.discriminator_vector_field._target_=builtins.dict",
     "model.discriminator_vector_field: builtins.dict returned a dict, not a torch.nn.Module"),
])
def test_a_user_network_without_target_or_not_a_module_is_refused_naming_the_key(override, message):
    with pytest.raises(Exception) as raised:  # Hydra wraps it; the entry points print the cause as one line
        build([override])
    cause = input_error_cause(raised.value)
    assert isinstance(cause, ConfigurationError) and message in str(cause)

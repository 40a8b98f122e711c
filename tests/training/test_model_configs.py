"""sdegan/configs/model/*.yaml instantiate the LightningModules the way the entry point does."""

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch import nn

from sdegan.nn import LipSwish
from sdegan.training import SDEGAN, LatentSDE
from tests.training.training_helpers import SOLVE_OPTIONS
from sdegan.config_dir import CONFIG_DIR as PACKAGE_CONFIG_DIR


CONFIG_DIR = PACKAGE_CONFIG_DIR


def _model(*overrides):
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=list(overrides))
    return instantiate(cfg.model, data_channels=2, times=torch.arange(5.0), solve_options=SOLVE_OPTIONS,
                       _recursive_=False)


def test_sde_gan_config_is_the_clipped_recipe():
    model = _model("model=sde_gan")
    assert isinstance(model, SDEGAN) and model.lipschitz == "clip"
    assert any(isinstance(m, LipSwish) for m in model.discriminator.modules())
    assert model.hparams.hidden_size == 16 and model.hparams.weight_decay == 0.01


@pytest.mark.parametrize("overrides", [("model=sde_gan_gp",), ("model=sde_gan", "model.lipschitz=gradient_penalty")])
def test_gradient_penalty_configs(overrides):
    model = _model(*overrides)
    assert model.lipschitz == "gradient_penalty" and model.hparams.critic_steps == 5
    assert model.hparams.gradient_penalty_weight == 10.0
    assert any(isinstance(m, nn.Softplus) for m in model.discriminator.modules())
    assert not any(isinstance(m, LipSwish) for m in model.modules())


def test_latent_sde_config():
    model = _model("model=latent_sde")
    assert isinstance(model, LatentSDE)
    assert model.sample(2).shape == (2, 5, 3)

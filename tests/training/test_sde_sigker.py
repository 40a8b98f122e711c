"""SDESigKer: the config, exact reversible gradients of the score, a tiny fit, the checkpointed scale."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from sdegan.errors import ConfigurationError
from sdegan.metrics import apply_missing_pattern, signature_mmd
from sdegan.models import Generator
from sdegan.training import SDESigKer
from tests.training.training_helpers import SyntheticPathDataModule, parameter_vector, quiet_trainer, solve_options
from sdegan.config_dir import CONFIG_DIR as PACKAGE_CONFIG_DIR

CONFIG_DIR = PACKAGE_CONFIG_DIR


def _module(**overrides) -> SDESigKer:
    options = dict(data_channels=1, times=torch.arange(8.0), solve_options=solve_options(), hidden_size=8,
                   width=8, num_generated=8, real_batch_size=8)
    return SDESigKer(**{**options, **overrides})


def test_config_builds_the_sde_gan_generator_with_the_pde_kernel():
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["model=sde_sigker"])
    assert cfg.solver.method == "reversible_heun" and cfg.gradient.name == "reversible"
    model = instantiate(cfg.model, data_channels=2, times=torch.arange(5.0), solve_options=solve_options(),
                        _recursive_=False)
    assert isinstance(model, SDESigKer) and isinstance(model.generator, Generator)
    assert model.kernel.backend == "pysiglib" and model.kernel.static_kernel == "rbf"
    assert not hasattr(model, "discriminator")
    assert model.sample(3).shape == (3, 5, 3)


def test_reversible_gradients_of_the_score_equal_direct_backpropagation():
    batch = SyntheticPathDataModule(num_paths=32, length=8).train_paths[:8]
    weights = _module(value_scale=1.0).state_dict()
    gradients = []
    for gradient in ("direct", "reversible"):
        model = _module(solve_options=solve_options(gradient=gradient), value_scale=1.0)
        model.load_state_dict(weights)
        torch.manual_seed(1)
        model.score(batch)[0].backward()
        gradients.append(torch.cat([p.grad.flatten() for p in model.generator.parameters()]))
    torch.testing.assert_close(gradients[1], gradients[0], rtol=1e-4, atol=1e-6)


def test_value_scale_is_set_from_the_first_batch_and_kept_in_the_state():
    model = _module()
    batch = SyntheticPathDataModule(num_paths=32, length=8).train_paths[:16]
    model._set_value_scale(batch)
    std = float(torch.nan_to_num(batch[..., 1]).std())
    assert float(model.value_scale_set) == 1.0 and 0.5 / std < float(model.value_scale) < 2 / std
    restored = _module()
    restored.load_state_dict(model.state_dict())
    assert float(restored.value_scale_set) == 1.0 and torch.equal(restored.value_scale, model.value_scale)


@pytest.mark.parametrize("options, message", [
    (dict(num_generated=1), "num_generated"),
    (dict(value_scale="median"), "value_scale"),
    (dict(kernel_backend="signatory", static_kernel="rbf"), "linear static kernel only"),
])
def test_bad_options_name_the_problem(options, message):
    with pytest.raises(ConfigurationError, match=message):
        _module(**options)


@pytest.mark.parametrize("backend", ["pysiglib", "signatory"])
def test_tiny_fit_lowers_the_held_out_mmd(tmp_path, backend):
    datamodule = SyntheticPathDataModule(num_paths=256, length=8, batch_size=32)
    static_kernel = "rbf" if backend == "pysiglib" else "linear"
    model = _module(kernel_backend=backend, static_kernel=static_kernel, num_generated=16, real_batch_size=16,
                    lr=1e-2)
    test = datamodule.test_paths

    def held_out_mmd() -> float:
        torch.manual_seed(5)
        return signature_mmd(test, apply_missing_pattern(model.sample(len(test)), test))

    before = held_out_mmd()
    initial = parameter_vector(model)
    quiet_trainer(tmp_path, max_steps=60, limit_val_batches=0).fit(model, datamodule=datamodule)
    after = held_out_mmd()
    assert not torch.equal(parameter_vector(model), initial)
    assert after < 0.5 * before, (before, after)

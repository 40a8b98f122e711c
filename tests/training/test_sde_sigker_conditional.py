"""SDESigKerConditional: the config, the prefix options, exact reversible gradients, forecasts, a tiny fit."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from sdegan.config_dir import CONFIG_DIR
from sdegan.errors import ConfigurationError
from sdegan.models.conditional_generator import ConditionalGenerator
from sdegan.paths import apply_missing_pattern
from sdegan.training import SDESigKerConditional
from tests.training.training_helpers import SyntheticPathDataModule, parameter_vector, quiet_trainer, solve_options


def _module(**overrides) -> SDESigKerConditional:
    options = dict(data_channels=1, times=torch.arange(8.0), solve_options=solve_options(), hidden_size=8,
                   width=8, encoding_size=8, num_prefixes=8)
    return SDESigKerConditional(**{**options, **overrides})


def test_config_builds_the_conditional_generator_and_continues_prefixes():
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["model=sde_sigker_conditional"])
    assert cfg.solver.method == "reversible_heun" and cfg.gradient.name == "reversible"
    model = instantiate(cfg.model, data_channels=2, times=torch.arange(10.0), solve_options=solve_options(),
                        _recursive_=False)
    assert isinstance(model, SDESigKerConditional) and isinstance(model.generator, ConditionalGenerator)
    assert model.prefix_length == 5 and model.samples_per_prefix == 4 and model.kernel.time_span == (5.0, 9.0)
    real = SyntheticPathDataModule(num_paths=16, length=10, channels=2).train_paths[:3]
    assert model.forecast(real, 4).shape == (12, 5, 3)
    like = model.sample_like(real)
    assert like.shape == real.shape and not torch.isnan(like).any()
    torch.testing.assert_close(apply_missing_pattern(like, real)[:, :5], real[:, :5], equal_nan=True)
    assert torch.equal(like[..., 0], real[..., 0])
    with pytest.raises(ConfigurationError, match="only continues observed prefixes"):
        model.sample(3)


def test_the_continuation_depends_on_the_prefix_only():
    model = _module(prefix_length=3)
    real = SyntheticPathDataModule(num_paths=16, length=8).train_paths[:4]
    other_future = real.clone()
    other_future[:, 3:, 1] += 5.0
    torch.manual_seed(0)
    first = model.forecast(real, 2)
    torch.manual_seed(0)
    assert torch.equal(model.forecast(other_future, 2), first)
    other_past = real.clone()
    other_past[:, 2, 1] = 3.0
    torch.manual_seed(0)
    assert not torch.allclose(model.forecast(other_past, 2), first)


@pytest.mark.parametrize("options, message", [
    (dict(prefix_length=7), "prefix_length=7 must leave"),
    (dict(prefix_length=0), "prefix_length=0 must leave"),
    (dict(prefix_fraction=1.5), "prefix_fraction must be"),
    (dict(prefix_fraction=0.95), "prefix_fraction=0.95"),
    (dict(samples_per_prefix=1), "samples_per_prefix"),
    (dict(value_scale="median"), "value_scale"),
])
def test_bad_options_name_the_problem(options, message):
    with pytest.raises(ConfigurationError, match=message):
        _module(**options)


def test_reversible_gradients_of_the_score_equal_direct_backpropagation():
    batch = SyntheticPathDataModule(num_paths=32, length=8).train_paths[:6]
    weights = _module(value_scale=1.0).state_dict()
    gradients = []
    for gradient in ("direct", "reversible"):
        model = _module(solve_options=solve_options(gradient=gradient), value_scale=1.0)
        model.load_state_dict(weights)
        torch.manual_seed(1)
        model.score(batch)[0].backward()
        gradients.append(torch.cat([p.grad.flatten() for p in model.generator.parameters()]))
    torch.testing.assert_close(gradients[1], gradients[0], rtol=1e-4, atol=1e-6)


def test_tiny_fit_lowers_the_held_out_prediction_error(tmp_path):
    datamodule = SyntheticPathDataModule(num_paths=256, length=8, batch_size=32)
    model = _module(num_prefixes=16, lr=1e-2)
    test = datamodule.test_paths

    def held_out_error() -> float:
        torch.manual_seed(5)
        with torch.no_grad():
            return float(model.prediction_errors(test)[0])

    before = held_out_error()
    initial = parameter_vector(model)
    quiet_trainer(tmp_path, max_steps=60, limit_val_batches=0).fit(model, datamodule=datamodule)
    after = held_out_error()
    assert not torch.equal(parameter_vector(model), initial)
    assert after < 0.5 * before, (before, after)

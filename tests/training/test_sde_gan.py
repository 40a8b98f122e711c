"""SDEGAN LightningModule: recipes, clipping, gradient penalty, SWA, resume, NaN handling."""

import pytest
import pytorch_lightning as pl
import torch
from tests.training.training_helpers import (
    GRADIENT_CASES,
    SyntheticPathDataModule,
    parameter_vector,
    quiet_trainer,
    solve_options,
)

from sdegan.nn import max_clip_violation
from sdegan.training import SDEGAN, NonFiniteLossError


def _datamodule(num_paths=64):
    return SyntheticPathDataModule(num_paths=num_paths, length=6, batch_size=8)


def _model(dm, method="reversible_heun", gradient="reversible", **kwargs):
    kwargs.setdefault("swa_start", 2)
    return SDEGAN(dm.num_channels, dm.times, solve_options(method, gradient), hidden_size=8, width=8, **kwargs)


class _Recorder(pl.Callback):
    """Records per step: metrics logged, generator/discriminator parameters, clip violation."""

    def __init__(self):
        self.steps = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps.append({
            "metrics": {k: float(v) for k, v in trainer.callback_metrics.items()},
            "generator": parameter_vector(pl_module.generator),
            "discriminator": parameter_vector(pl_module.discriminator),
            "clip_violation": max_clip_violation(pl_module.discriminator),
        })


@pytest.mark.parametrize("lipschitz", ["clip", "gradient_penalty"])
@pytest.mark.parametrize("method, gradient", GRADIENT_CASES)
def test_tiny_fit(tmp_path, lipschitz, method, gradient):
    pl.seed_everything(0)
    dm = _datamodule()
    model = _model(dm, method, gradient, lipschitz=lipschitz, critic_steps=2)
    before_g, before_d = parameter_vector(model.generator), parameter_vector(model.discriminator)
    recorder = _Recorder()
    quiet_trainer(tmp_path, max_steps=6, callbacks=[recorder]).fit(model, datamodule=dm)
    assert model.global_step == 6 and len(recorder.steps) == 6
    for params, before in ((parameter_vector(model.generator), before_g),
                           (parameter_vector(model.discriminator), before_d)):
        assert torch.isfinite(params).all() and not torch.equal(params, before)
    last = recorder.steps[-1]["metrics"]
    assert last["train/step_time"] > 0 and last["solver/nfe"] > 0
    assert last["solver/nfe_generator"] > 0 and last["solver/nfe_discriminator"] > 0
    assert "val/loss" in last
    # SWA from step 2: averages taken after steps 2..6.
    assert int(model.averaged_generator.n_averaged) == 5 == int(model.averaged_discriminator.n_averaged)
    samples = model.sample(3)
    assert samples.shape == (3, 6, 2) and torch.isfinite(samples).all()


def test_discriminator_weights_within_clip_bound_after_every_step(tmp_path):
    pl.seed_everything(0)
    dm = _datamodule()
    model = _model(dm)
    assert max_clip_violation(model.discriminator) > 0  # default init exceeds the bound
    recorder = _Recorder()
    quiet_trainer(tmp_path, max_steps=5, callbacks=[recorder]).fit(model, datamodule=dm)
    violations = [step["clip_violation"] for step in recorder.steps]
    assert len(violations) == 5 and max(violations) <= 0.0
    # Weights sit on the bound (clipping is active), not merely inside it.
    first = model.discriminator.initial.net[0]
    assert first.weight.abs().max().item() == pytest.approx(1 / first.out_features, rel=1e-3)


def test_clipped_recipe_uses_one_adadelta_with_recipe_learning_rates():
    dm = _datamodule()
    model = _model(dm)
    optimizer = model.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adadelta)
    groups = optimizer.param_groups
    assert [g["lr"] for g in groups] == [2e-4, 1e-3]
    assert all(g["weight_decay"] == 0.01 for g in groups)
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in model.generator.parameters()}
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in model.discriminator.parameters()}


def test_gradient_penalty_alternates_critic_and_generator_steps(tmp_path):
    pl.seed_everything(0)
    dm = _datamodule()
    model = _model(dm, lipschitz="gradient_penalty", critic_steps=2)
    recorder = _Recorder()
    g0, d0 = parameter_vector(model.generator), parameter_vector(model.discriminator)
    quiet_trainer(tmp_path, max_steps=6, callbacks=[recorder]).fit(model, datamodule=dm)
    previous = (g0, d0)
    updated = []
    for step in recorder.steps:
        updated.append((not torch.equal(step["generator"], previous[0]),
                        not torch.equal(step["discriminator"], previous[1])))
        previous = (step["generator"], step["discriminator"])
    critic, generator = (False, True), (True, False)
    assert updated == [critic, critic, generator, critic, critic, generator]


def _finite_difference_penalty(model, real, fake, alpha, eps=1e-6):
    """(|grad D| - 1)^2 with grad D from central differences over every value-channel coefficient."""
    options = model.discriminator_options
    interpolates = alpha * real + (1 - alpha) * fake
    penalties = []
    for b in range(interpolates.size(0)):
        path = interpolates[b : b + 1]
        grad = torch.zeros_like(path)
        for index in range(path.numel()):
            step = torch.zeros(path.numel(), dtype=path.dtype)
            step[index] = eps
            step = step.view_as(path)
            with torch.no_grad():
                up = model.discriminator.score(path + step, options)
                down = model.discriminator.score(path - step, options)
            grad.view(-1)[index] = ((up - down) / (2 * eps)).item()
        penalties.append((grad[..., 1:].norm() - 1) ** 2)
    return torch.stack(penalties).mean()


@pytest.mark.parametrize("gradient", ["direct", "reversible"])
def test_gradient_penalty_matches_finite_differences(gradient):
    torch.manual_seed(0)
    times = torch.arange(4, dtype=torch.float64)
    model = SDEGAN(1, times, solve_options(gradient=gradient), lipschitz="gradient_penalty", hidden_size=3,
                   width=4).double()
    real = torch.cat([times.view(1, -1, 1).expand(3, -1, 1), torch.randn(3, 4, 1, dtype=torch.float64)], -1)
    fake = model.generator(model.times, 3, model.solve_options).detach()
    torch.manual_seed(7)
    penalty = model.gradient_penalty(real, fake)
    torch.manual_seed(7)
    alpha = torch.rand(3, 1, 1, dtype=torch.float64)
    expected = _finite_difference_penalty(model, real, fake, alpha)
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-6)
    # The penalty is differentiable in the parameters (double backward through the CDE solve):
    # compare one parameter's derivative with finite differences of the penalty itself.
    weight = model.discriminator.vector_field.net.net[0].weight
    (autograd_derivative,) = torch.autograd.grad(penalty, weight)
    eps = 1e-6
    values = []
    for sign in (1, -1):
        with torch.no_grad():
            weight[0, 1] += sign * eps
        torch.manual_seed(7)
        values.append(model.gradient_penalty(real, fake).item())
        with torch.no_grad():
            weight[0, 1] -= sign * eps
    assert autograd_derivative[0, 1].item() == pytest.approx((values[0] - values[1]) / (2 * eps), rel=1e-5)


def test_sample_uses_averaged_generator_once_averaging_started(tmp_path):
    pl.seed_everything(0)
    dm = _datamodule()
    model = _model(dm, swa_start=3)
    assert model.evaluation_generator() is model.generator
    quiet_trainer(tmp_path, max_steps=5).fit(model, datamodule=dm)
    assert model.averaging_started
    assert model.evaluation_generator() is model.averaged_generator.module
    averaged = parameter_vector(model.averaged_generator.module)
    assert not torch.equal(averaged, parameter_vector(model.generator))
    torch.manual_seed(1)
    sampled = model.sample(4)
    torch.manual_seed(1)
    direct = model.averaged_generator.module(model.times, 4, model.solve_options)
    assert torch.equal(sampled, direct)


def _fit_until(tmp_path, max_steps, ckpt_path=None, checkpoint_every=None):
    pl.seed_everything(0)
    dm = _datamodule(num_paths=64)  # 32 training paths, 4 batches of 8 per epoch
    model = _model(dm, swa_start=3)
    trainer = quiet_trainer(tmp_path, max_steps=max_steps, checkpoint_every=checkpoint_every)
    trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
    return model


def test_resume_equals_uninterrupted_run(tmp_path):
    uninterrupted = _fit_until(tmp_path / "full", 8, checkpoint_every=4)
    checkpoint = tmp_path / "full" / "step=4.ckpt"
    assert checkpoint.exists()
    resumed = _fit_until(tmp_path / "resumed", 8, ckpt_path=str(checkpoint))
    assert resumed.global_step == 8
    for name, tensor in uninterrupted.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
    assert int(resumed.averaged_generator.n_averaged) == 6


class _InjectNaN(pl.Callback):
    def __init__(self, at_step):
        self.at_step = at_step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.at_step:
            with torch.no_grad():
                pl_module.discriminator.readout.bias.fill_(float("nan"))


def test_nan_loss_stops_training_and_keeps_a_loadable_checkpoint(tmp_path):
    pl.seed_everything(0)
    dm = _datamodule()
    model = _model(dm)
    trainer = quiet_trainer(tmp_path, max_steps=10, callbacks=[_InjectNaN(at_step=5)], checkpoint_every=2)
    with pytest.raises(NonFiniteLossError, match="non-finite SDE-GAN loss .* at training step 5"):
        trainer.fit(model, datamodule=dm)
    checkpoints = sorted(tmp_path.glob("*.ckpt"))
    assert [c.name for c in checkpoints] == ["step=2.ckpt", "step=4.ckpt"]
    restored = SDEGAN.load_from_checkpoint(checkpoints[-1])
    assert all(torch.isfinite(p).all() for p in restored.parameters())
    assert restored.sample(2).shape == (2, 6, 2)


def test_invalid_lipschitz_names_valid_choices():
    dm = _datamodule()
    with pytest.raises(ValueError, match="clip.*gradient_penalty"):
        _model(dm, lipschitz="spectral")
    with pytest.raises(ValueError, match="valid keys"):
        SDEGAN(1, dm.times, {**solve_options(), "steps": 3})

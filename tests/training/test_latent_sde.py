"""LatentSDE LightningModule: fits, KL annealing, resume, NaN handling."""

import pytest
import pytorch_lightning as pl
import torch

from sdegan.training import LatentSDE, NonFiniteLossError
from tests.training.training_helpers import (
    GRADIENT_CASES,
    SyntheticPathDataModule,
    parameter_vector,
    quiet_trainer,
    solve_options,
)


def _setup(method="reversible_heun", gradient="reversible", **kwargs):
    dm = SyntheticPathDataModule(num_paths=64, length=6, batch_size=8)
    model = LatentSDE(dm.num_channels, dm.times, solve_options(method, gradient), context_size=8,
                      hidden_size=8, width=8, **kwargs)
    return dm, model


@pytest.mark.parametrize("method, gradient", GRADIENT_CASES)
def test_tiny_fit(tmp_path, method, gradient):
    pl.seed_everything(0)
    dm, model = _setup(method, gradient, kl_anneal_steps=4)
    before = parameter_vector(model)
    trainer = quiet_trainer(tmp_path, max_steps=4)
    trainer.fit(model, datamodule=dm)
    after = parameter_vector(model)
    assert torch.isfinite(after).all() and not torch.equal(after, before)
    metrics = trainer.callback_metrics
    for name in ("train/loss", "train/elbo", "train/kl", "val/elbo", "train/step_time", "solver/nfe"):
        assert torch.isfinite(metrics[name]), name
    assert metrics["solver/nfe"] > 0
    assert not any(isinstance(value, torch.Tensor) and value.requires_grad for value in vars(model.model).values())
    samples = model.sample(3)
    assert samples.shape == (3, 6, 2) and torch.isfinite(samples).all()


def test_training_improves_the_elbo(tmp_path):
    pl.seed_everything(0)
    dm, model = _setup("reversible_heun", "reversible", kl_anneal_steps=0, lr=2e-2)
    batch = dm.val_paths
    torch.manual_seed(1)
    before = model._elbo(batch).item()
    quiet_trainer(tmp_path, max_steps=40, limit_val_batches=0).fit(model, datamodule=dm)
    torch.manual_seed(1)
    after = model._elbo(batch).item()
    assert after > before + 0.25 * abs(before)


def test_kl_weight_anneals_linearly():
    _, model = _setup(kl_anneal_steps=10, kl_anneal_start=0.2)
    weights = [_kl_weight_at(model, step) for step in (0, 5, 10, 20)]
    assert weights == pytest.approx([0.2, 0.6, 1.0, 1.0])
    _, plain = _setup(kl_anneal_steps=0)
    assert _kl_weight_at(plain, 0) == 1.0
    with pytest.raises(ValueError, match="kl_anneal"):
        _setup(kl_anneal_steps=-1)


def _kl_weight_at(model, step):
    class _FakeTrainer:
        global_step = step
    model._trainer = _FakeTrainer()
    try:
        return model.kl_weight()
    finally:
        model._trainer = None


def test_adam_with_exponential_decay_per_step():
    _, model = _setup(lr=0.01, lr_decay=0.9)
    config = model.configure_optimizers()
    assert isinstance(config["optimizer"], torch.optim.Adam)
    assert config["lr_scheduler"]["interval"] == "step"
    config["lr_scheduler"]["scheduler"].step()
    assert config["optimizer"].param_groups[0]["lr"] == pytest.approx(0.009)


def test_resume_equals_uninterrupted_run(tmp_path):
    def fit(root, ckpt_path=None, checkpoint_every=None):
        pl.seed_everything(0)
        dm, model = _setup(kl_anneal_steps=6)
        quiet_trainer(root, max_steps=8, checkpoint_every=checkpoint_every).fit(
            model, datamodule=dm, ckpt_path=ckpt_path)
        return model

    full = fit(tmp_path / "full", checkpoint_every=4)
    resumed = fit(tmp_path / "resumed", ckpt_path=str(tmp_path / "full" / "step=4.ckpt"))
    for name, tensor in full.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name


class _InjectNaN(pl.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == 3:
            with torch.no_grad():
                pl_module.model.decoder.bias.fill_(float("inf"))


def test_nan_loss_stops_training_and_keeps_a_loadable_checkpoint(tmp_path):
    pl.seed_everything(0)
    dm, model = _setup()
    trainer = quiet_trainer(tmp_path, max_steps=10, callbacks=[_InjectNaN()], checkpoint_every=2)
    with pytest.raises(NonFiniteLossError, match="non-finite negative ELBO .* at training step 3"):
        trainer.fit(model, datamodule=dm)
    (checkpoint,) = tmp_path.glob("*.ckpt")
    restored = LatentSDE.load_from_checkpoint(checkpoint)
    assert all(torch.isfinite(p).all() for p in restored.parameters())
    assert torch.isfinite(restored.sample(2)).all()

"""Sample-plot and metrics callbacks."""

import math

import pytorch_lightning as pl
import pytest
import torch

from sdegan.training import GeneratorMetricsCallback, SamplePlotCallback, SDEGAN
from sdegan.training.plots import sample_paths_figure
from tests.training.training_helpers import SyntheticPathDataModule, quiet_trainer, solve_options

QUICK_METRICS = {
    "repeats": 1, "num_samples": 16,
    "mmd": {"depth": 3, "batch_size": 16},
    "classification": {"hidden_size": 4, "epochs": 1, "batch_size": 8},
    "prediction": {"num_train": 16, "hidden_size": 4, "epochs": 1, "batch_size": 8},
}


def _setup():
    pl.seed_everything(0)
    dm = SyntheticPathDataModule(num_paths=64, length=6, batch_size=8)
    model = SDEGAN(dm.num_channels, dm.times, solve_options(), hidden_size=8, width=8, swa_start=None)
    return dm, model


def test_plot_callback_writes_pngs_without_touching_training_randomness(tmp_path):
    dm, model = _setup()
    callback = SamplePlotCallback(num_samples=16, every_n_validations=1)
    trainer = quiet_trainer(tmp_path, max_steps=4, callbacks=[callback])
    trainer.fit(model, datamodule=dm)
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == ["samples.png", "samples_step2.png", "samples_step4.png"]
    assert (tmp_path / "samples.png").stat().st_size > 10_000
    # Same run without the callback ends with the same parameters.
    dm, plain = _setup()
    quiet_trainer(tmp_path / "plain", max_steps=4).fit(plain, datamodule=dm)
    for a, b in zip(model.parameters(), plain.parameters()):
        assert torch.equal(a, b)


def test_figure_is_drawn_in_original_units_with_histograms():
    dm = SyntheticPathDataModule(num_paths=32, length=6)
    real = dm.normaliser.inverse_transform(dm.val_paths)
    figure = sample_paths_figure(real, real + 1, histogram_fractions=(0.0, 0.5, 1.0))
    axes = figure.get_axes()
    assert len(axes) == 5
    assert [a.get_title() for a in axes[2:]] == ["marginal at t = 0", "marginal at t = 2", "marginal at t = 5"]
    with pytest.raises(ValueError, match="channels"):
        sample_paths_figure(real, real, channels=[1])


def test_metrics_callback_logs_val_mmd_and_test_metrics(tmp_path):
    dm, model = _setup()
    callback = GeneratorMetricsCallback(QUICK_METRICS, val_samples=16)
    trainer = quiet_trainer(tmp_path, max_steps=2, callbacks=[callback])
    trainer.fit(model, datamodule=dm)
    assert math.isfinite(float(trainer.callback_metrics["val/mmd"]))
    assert math.isfinite(float(trainer.callback_metrics["val/mmd_real"]))
    (results,) = trainer.test(model, datamodule=dm, verbose=False)
    for name in ("test/mmd", "test/mmd_real", "test/classification", "test/discriminative_score",
                 "test/prediction_tstr", "test/prediction_trtr", "test/predictive_score"):
        assert math.isfinite(results[name]), name
    assert 0.0 <= results["test/classification"] <= 1.0


def test_metrics_callback_rejects_bad_config():
    with pytest.raises(ValueError, match="valid keys"):
        GeneratorMetricsCallback({"mmd": {"depht": 3}})

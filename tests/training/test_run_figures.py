"""The run's figures: training curves (continued across a resume) and sample plots of every channel, labelled,
in the data's units, with y-limits holding every real path."""

from __future__ import annotations

import pytorch_lightning as pl
import pytest
import torch

from sdegan.data import OUDataModule
from sdegan.training import GeneratorMetricsCallback, SamplePlotCallback, SDEGAN, TrainingCurvesCallback
from sdegan.training.callbacks import read_training_curves
from sdegan.training.plots import sample_paths_figure, training_curves_figure, value_limits
from tests.training.training_helpers import SyntheticPathDataModule, quiet_trainer, solve_options

QUICK_MMD = {"repeats": 1, "num_samples": 16, "mmd": {"depth": 2, "batch_size": 16}}


def _fit(root, max_steps: int, ckpt_path: str | None = None) -> TrainingCurvesCallback:
    pl.seed_everything(0)
    dm = OUDataModule(num_paths=40, length=6, batch_size=8, seed=0, val_fraction=0.1, test_fraction=0.1)
    dm.setup()  # 32 train paths: 4 steps per epoch, and a resumable train loader (resumes mid-epoch exactly)
    model = SDEGAN(dm.num_channels, dm.times, solve_options(), hidden_size=8, width=8, swa_start=None)
    curves = TrainingCurvesCallback()
    callbacks = [GeneratorMetricsCallback(QUICK_MMD, val_samples=16), curves]
    trainer = quiet_trainer(root, max_steps=max_steps, callbacks=callbacks, checkpoint_every=2)
    trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
    return curves


def test_training_curves_record_every_step_and_validation_and_a_resume_continues_them(tmp_path):
    full = _fit(tmp_path / "full", max_steps=6)
    assert [s for s, _ in full.history["train/loss"]] == [1, 2, 3, 4, 5, 6]
    assert [s for s, _ in full.history["val/mmd"]] == [2, 4, 6]
    assert [s for s, _ in full.history["val/mmd_real"]] == [2, 4, 6]
    assert "train/step_time" not in full.history  # excluded by default
    assert (tmp_path / "full" / "training_curves.png").stat().st_size > 10_000
    assert read_training_curves(tmp_path / "full" / "training_curves.csv") == full.history

    _fit(tmp_path / "first", max_steps=4)
    _fit(tmp_path / "resumed", max_steps=6, ckpt_path=str(tmp_path / "first" / "step=2.ckpt"))
    # The resumed run's curves start at step 1 (carried in the checkpoint, the validation at step 2 from the
    # first run's file) and equal the uninterrupted run's.
    assert read_training_curves(tmp_path / "resumed" / "training_curves.csv") == full.history
    (tmp_path / "first" / "training_curves.csv").unlink()  # without that file: all but that validation
    _fit(tmp_path / "resumed_alone", max_steps=6, ckpt_path=str(tmp_path / "first" / "step=2.ckpt"))
    alone = read_training_curves(tmp_path / "resumed_alone" / "training_curves.csv")
    assert alone["train/loss"] == full.history["train/loss"]
    assert alone["val/mmd"] == full.history["val/mmd"][1:]


def test_training_curves_figure_has_a_panel_per_metric_with_the_real_reference_in_its_panel():
    history = {"train/loss": [(1, 2.0), (2, 1.0)], "val/mmd": [(2, 0.5)], "val/mmd_real": [(2, 0.01)]}
    figure = training_curves_figure(history)
    visible = [axes for axes in figure.get_axes() if axes.get_visible()]
    assert [axes.get_title() for axes in visible] == ["train/loss", "val/mmd"]
    assert [line.get_label() for line in visible[1].get_lines()] == ["val/mmd", "val/mmd_real"]


class _NamedDataModule(SyntheticPathDataModule):
    """Three value channels with names, a time unit of 0.5 and one outlying real path."""

    def __init__(self) -> None:
        super().__init__(num_paths=64, length=6, channels=3, batch_size=8)
        self.val_paths[0, 3, 2] = 40.0  # far outside the rest (the old 0.5%..99.5% limits cut it off)
        self.normaliser.channel_names = ["heart_rate", "temperature", "pressure"]
        self.normaliser.time_unit = 0.5
        self.channel_units = {"heart_rate": "1/min"}


def test_sample_plot_shows_every_channel_named_in_data_units_up_to_max_channels(tmp_path):
    pl.seed_everything(0)
    dm = _NamedDataModule()
    model = SDEGAN(dm.num_channels, dm.times, solve_options(), hidden_size=8, width=8, swa_start=None)
    callbacks = [SamplePlotCallback(num_samples=16, max_channels=2, channel_units={"temperature": "degC"}),
                 SamplePlotCallback(num_samples=16, filename="all.png", max_channels=None)]
    trainer = quiet_trainer(tmp_path, max_steps=1, callbacks=callbacks)
    trainer.fit(model, datamodule=dm)
    assert (tmp_path / "samples.png").is_file() and (tmp_path / "all.png").is_file()

    real = dm.normaliser.inverse_transform(dm.val_paths[:16])
    real[..., 0] *= 0.5
    labels = callbacks[0].channel_labels(dm, 3)
    assert labels == ["heart_rate [1/min]", "temperature [degC]", "pressure"]
    figure = sample_paths_figure(real, real.clone(), channels=[0, 1, 2], channel_labels=labels, num_paths=16)
    axes = figure.get_axes()
    assert len(axes) == 3 * 5
    assert [axes[5 * row].get_ylabel() for row in range(3)] == labels
    line = axes[0].get_lines()[0]
    assert max(line.get_xdata()) == pytest.approx(2.5)  # times in the data's unit: (length - 1) * 0.5
    low, high = axes[5].get_ylim()  # the row of channel 1, with the outlier
    assert low <= float(real[..., 2].nan_to_num(nan=0.0).min()) and high >= 40.0 * 2 + 1


def test_value_limits_hold_every_real_value_and_the_generated_bulk_within_one_real_range():
    real = torch.tensor([0.0, 1.0, 2.0, 10.0])
    low, high = value_limits(real, torch.tensor([1.0, 1.5]))
    assert low < 0.0 and high > 10.0
    low, high = value_limits(real, torch.full((100,), 1e6))  # a diverged generator
    assert 10.0 < high <= 21.1  # the real range [0, 10] extended by one range (and 5% padding)
    assert value_limits(torch.tensor([float("nan")]), torch.tensor([float("nan")])) == (-1.0, 1.0)

"""Reading a finished sdegan-train run directory into one results row; budgets and run keys (no training needed)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from tests.experiments.results_files import load_experiment_module

training_runs = load_experiment_module("training_runs")


def write_run(run_dir, summary: dict, metrics: pd.DataFrame) -> None:
    (run_dir / "csv").mkdir(parents=True)
    (run_dir / "summary.json").write_text(json.dumps(summary))
    metrics.to_csv(run_dir / "csv" / "metrics.csv", index=False)


def test_read_run_sums_step_times_and_takes_the_test_metrics(tmp_path):
    # Lightning's CSV logger writes step rows and separate rows for other metrics (NaN in the step columns).
    metrics = pd.DataFrame({
        "step": [0, 1, 2, 2],
        "train/step_time": [0.5, 0.25, 0.25, math.nan],
        "solver/nfe": [100.0, 120.0, 120.0, math.nan],
        "summary/mmd_trained": [math.nan, math.nan, math.nan, 0.3],
    })
    write_run(tmp_path, {"mmd_trained": 0.3, "mmd_untrained": 1.2, "test/classification": 0.75, "test/mmd": 0.125,
                         "test/prediction_tstr": 2.0}, metrics)
    row = training_runs.read_run(tmp_path, training_runs.compose(["experiment=ou_sde_gan_gp"]))
    assert row["train_time_s"] == pytest.approx(1.0)
    assert row["step_time_s"] == pytest.approx(0.25)
    assert row["logged_forward_evaluations_per_step"] == 120.0
    assert row["steps"] == 3 and row["generator_updates"] == 0  # 3 penalty steps: critic steps only so far
    assert row["untrained_mmd"] == 1.2 and row["learned"]  # 0.3 <= 1.2 / 3
    assert row["classification"] == 0.75 and row["mmd"] == 0.125 and row["prediction_tstr"] == 2.0
    assert math.isnan(row["prediction_trtr"])  # not computed in this run: NaN, not a made-up number


def test_speedups_are_baseline_over_ours():
    setting = training_runs.Setting
    pair = training_runs.Pair("ou", setting("ou/ours", "ou_sde_gan"), setting("ou/base", "ou_sde_gan_midpoint"))
    raw = pd.DataFrame(dict(setting=["ou/ours", "ou/ours", "ou/base", "ou/base"], train_time_s=[1.0, 3.0, 4.0, 6.0],
                            step_time_s=[0.1, 0.1, 0.3, 0.3], forward_evaluations_per_step=[100, 100, 200, 200],
                            backward_vjps_per_step=[50, 50, 200, 200]))
    ratio = training_runs.speedups(raw, [pair])
    assert ratio.loc[0, "train_time_speedup"] == pytest.approx(2.5)
    assert ratio.loc[0, "step_time_speedup"] == pytest.approx(3.0)
    assert ratio.loc[0, "forward_evaluations_ratio"] == pytest.approx(2.0)
    assert ratio.loc[0, "backward_vjps_ratio"] == pytest.approx(4.0)


def test_equal_generator_updates_for_clipping_and_gradient_penalty():
    setting = training_runs.Setting
    clip = training_runs.equal_update_budget(setting("ou/clip", "ou_sde_gan"), 300)
    penalty = training_runs.equal_update_budget(setting("ou/gp", "ou_sde_gan_gp"), 300)
    assert clip == ["trainer.max_steps=300", "model.swa_start=150"]
    assert penalty == ["trainer.max_steps=1800", "model.swa_start=900"]  # 5 critic steps per generator step
    latent = training_runs.equal_update_budget(setting("ou/latent", "ou_latent_sde"), 300)
    assert latent == ["trainer.max_steps=300"]


def test_run_key_follows_the_composed_config():
    key = training_runs.run_key(["experiment=ou_sde_gan", "seed=1"])
    assert key == training_runs.run_key(["seed=1", "experiment=ou_sde_gan"])
    assert key != training_runs.run_key(["experiment=ou_sde_gan", "seed=2"])
    assert key != training_runs.run_key(["experiment=ou_sde_gan", "seed=1", "model.generator_lr=1e-3"])


def test_a_finished_run_is_read_back_not_trained(tmp_path, monkeypatch):
    setting = training_runs.Setting("ou/clip", "ou_sde_gan")
    overrides = training_runs.run_overrides(setting, 0, ["trainer.max_steps=3"])
    metrics = pd.DataFrame({"step": [0, 1, 2], "train/step_time": [0.1, 0.1, 0.1], "solver/nfe": [9.0, 9.0, 9.0]})
    write_run(tmp_path, {"mmd_trained": 0.5, "mmd_untrained": 1.0, "test/mmd": 0.5}, metrics)
    (tmp_path / "row.json").write_text(json.dumps(dict(setting="ou/clip", experiment="ou_sde_gan", seed=0,
                                                       run_dir=str(tmp_path), wall_time_s=7.0)))
    (tmp_path / training_runs.RUN_KEY_FILE).write_text(training_runs.run_key(overrides))

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run with the same composed config must not be trained again")

    monkeypatch.setattr(training_runs.subprocess, "run", no_training)
    row = training_runs.train(setting, 0, ["trainer.max_steps=3"], tmp_path)
    assert row["wall_time_s"] == 7.0 and row["steps"] == 3 and not row["learned"]
    with pytest.raises(AssertionError, match="must not be trained"):  # another budget: another config
        training_runs.train(setting, 0, ["trainer.max_steps=4"], tmp_path)


def test_scoped_overrides_apply_to_their_task_or_setting_only():
    common, scoped = training_runs.split_task_overrides(
        ["dataset.batch_size=128", "weights_sde_gan:trainer.max_steps=1000", "dataset.path=/data/a:b.zip"],
        ["ou_sde_gan", "weights_sde_gan"])
    assert common == ["dataset.batch_size=128", "dataset.path=/data/a:b.zip"]
    assert scoped == {"weights_sde_gan": ["trainer.max_steps=1000"]}
    with pytest.raises(SystemExit, match="unknown task or setting 'nope'"):
        training_runs.split_task_overrides(["nope:trainer.max_steps=1"], ["ou_sde_gan"])


def test_a_comparison_with_task_scoped_overrides_states_them_in_its_budget(tmp_path, monkeypatch):
    trained = []

    def fake_train(setting, seed, budget, run_dir):
        trained.append((setting.label, list(budget)))
        return dict(setting=setting.label, experiment=setting.experiment, seed=seed, run_dir=str(run_dir),
                    wall_time_s=1.0, steps=3, generator_updates=3, train_time_s=0.3, step_time_s=0.1,
                    logged_forward_evaluations_per_step=9.0, untrained_mmd=1.0, mmd_summary=0.1, learned=True,
                    classification=0.6, discriminative_score=0.1, prediction_tstr=1.0, prediction_trtr=1.0,
                    predictive_score=0.5, mmd=0.1)

    monkeypatch.setattr(training_runs, "train", fake_train)
    monkeypatch.setattr(training_runs, "setting_step_counts", lambda *args: dict(
        forward_evaluations_per_step=9.0, backward_vjps_per_step=4.5))
    pairs = [training_runs.Pair(task, training_runs.Setting(f"{task}/a", task),
                                training_runs.Setting(f"{task}/b", f"{task}_midpoint"))
             for task in ("ou_sde_gan", "weights_sde_gan")]
    monkeypatch.setattr("sys.argv", ["prog", "--seeds", "1", "--output-dir", str(tmp_path),
                                     "--override", "trainer.max_steps=3",
                                     "--override", "weights_sde_gan:trainer.max_steps=5",
                                     "--override", "ou_sde_gan/a:model.generator_lr=0.002"])
    training_runs.run_comparison("scoped", title="t", description="d", pairs=pairs, quick_tasks=[],
                                 paper_claim="c", paper_figure="f", paper_budget="b", paper_metrics="m")
    budgets = dict(trained)
    assert budgets["ou_sde_gan/a"] == ["trainer.max_steps=3", "model.generator_lr=0.002"]
    assert budgets["ou_sde_gan/b"] == ["trainer.max_steps=3"]
    assert budgets["weights_sde_gan/b"] == ["trainer.max_steps=3", "trainer.max_steps=5"]
    text = (tmp_path / "scoped.md").read_text()
    assert "weights_sde_gan also ['trainer.max_steps=5']" in text
    assert "ou_sde_gan/a also ['model.generator_lr=0.002']" in text


def test_budget_reductions_treat_null_as_all():
    setting = training_runs.Setting("air/a", "air_quality_latent_sde")
    assert training_runs.budget_reductions([setting], ["dataset.path=x.zip"]) == []
    assert training_runs.budget_reductions([setting], ["dataset.num_paths=64"]) == [
        "air/a dataset.num_paths 64 of all"]


@pytest.mark.parametrize("program", ["reversible_heun_vs_midpoint", "clipping_vs_gradient_penalty"])
def test_both_sides_of_the_paper_comparisons_solve_with_the_brownian_interval(program):
    # The experiment configs default to the grid source; the papers' comparisons keep the Interval on both sides.
    for pair in load_experiment_module(program).PAIRS:
        for setting in (pair.ours, pair.baseline):
            overrides = training_runs.run_overrides(setting, 0, [])
            assert training_runs.compose(overrides).brownian.name == "interval", setting.label

"""The results' sentences follow the numbers: each note-building function, given two synthetic result tables
with opposite outcomes, says opposite things (no fixed sentence states an outcome whatever happened)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.experiments.results_files import load_experiment_module


def solver_speed_rows(ours_ratio: float) -> pd.DataFrame:
    solver_speed = load_experiment_module("solver_speed")
    rows = [dict(method=method, device="cpu", steps=64, ratio_to_torchsde=ratio, min_ratio_to_torchsde=ratio,
                 cpu_ratio_to_torchsde=ratio, forward_evaluations=forward, backward_evaluations=backward)
            for method, ratio, forward, backward in zip(solver_speed.METHODS, (ours_ratio, 1.0, 0.7),
                                                        (65, 68, 131), (65, 128, 0))]
    return pd.DataFrame(rows)


def test_solver_speed_says_whether_the_target_was_met():
    conclusions = load_experiment_module("solver_speed")._conclusions
    (met,) = conclusions(solver_speed_rows(0.55))
    (missed,) = conclusions(solver_speed_rows(0.71))
    assert "met (0.55x)" in met and "not met" not in met
    assert "not met (0.71x)" in missed
    assert "less time" in met and "more time" in conclusions(solver_speed_rows(1.2))[0]


def metric_rows(classification_s: float) -> list[dict]:
    return [dict(metric="signature_mmd", variant="normalised", num_paths_each=8, length=4, epochs=None, repeats=1,
                 median_s=0.5, min_s=0.5, max_s=0.5, target_s=2.0, within_target=True),
            dict(metric="classification", variant="gru", num_paths_each=8, length=4, epochs=1, repeats=1,
                 median_s=classification_s, min_s=classification_s, max_s=classification_s, target_s=120.0,
                 within_target=classification_s <= 120.0)]


def test_metric_speed_states_the_targets_met_and_no_fixed_load_claim(tmp_path):
    metric_speed = load_experiment_module("metric_speed")
    metric_speed.write(metric_rows(30.0), tmp_path / "fast", "python experiments/metric_speed.py")
    metric_speed.write(metric_rows(300.0), tmp_path / "slow", "python experiments/metric_speed.py")
    fast, slow = ((tmp_path / case / "metric_speed.md").read_text() for case in ("fast", "slow"))
    assert "Targets met by 2 of 2 rows" in fast and "all met" in fast
    assert "Targets met by 1 of 2 rows" in slow and "not met by classification (gru): 300 s > 120 s" in slow
    for markdown in (fast, slow):
        assert "shared with other jobs" not in markdown
        assert "1-minute load average" in markdown


def test_the_machine_line_states_the_measured_load(tmp_path, monkeypatch):
    results_table = load_experiment_module("results_table")
    assert results_table.load_description(0.25, 3.5, 2) == (
        "1-minute load average 0.25 when the program started and 3.50 when it wrote its results, on 2 logical cores")
    assert results_table.load_description(None, None, 2) == "load average: not reported by this OS"
    monkeypatch.setattr(results_table, "LOAD_AT_START", 1.25)
    monkeypatch.setattr(results_table, "load_average", lambda: 4.75)
    paths = results_table.write_results("example", pd.DataFrame({"a": [1.0]}), tmp_path, title="t", description="d",
                                        budget="b", command="python experiments/example.py")
    assert "1-minute load average 1.25 when the program started and 4.75 when it wrote" in paths["md"].read_text()


def bisections(sequential: float, reverse: float) -> pd.DataFrame:
    return pd.DataFrame(dict(brownian="tree", pattern=["sequential", "reverse", "random"],
                             bisections_per_query_median=[sequential, reverse, 9.0]))


def test_brownian_bisection_sentence_follows_the_counts():
    bisection_counts = load_experiment_module("brownian_interval_vs_tree").bisection_counts
    cheap, costly = bisection_counts(bisections(1.0, 1.0)), bisection_counts(bisections(1.0, 3.0))
    assert "cost at most one bisection each" in cheap and "more than one" not in cheap
    assert "cost more than one bisection each in: reverse" in costly and "at most one" not in costly


def test_brownian_paper_comparison_follows_the_ratios():
    comparison = load_experiment_module("brownian_interval_vs_tree").comparison_with_paper
    ratio = lambda value: pd.DataFrame(dict(measurement=["queries"], pattern=["sequential"], batch=[64],  # noqa: E731
                                            tree_over_interval=[value]))
    assert "is below the paper's" in comparison(ratio(4.0))
    assert "is above the paper's" in comparison(ratio(12.0))


def reductions(value: float) -> pd.DataFrame:
    return pd.DataFrame(dict(norm=["seminorm", "seminorm", "torchdiffeq_seminorm", "torchdiffeq_seminorm"],
                             task="ode", rtol=1e-3, seed=[0, 1, 0, 1],
                             backward_nfe_reduction=[value, value, value / 2, value / 2]))


def test_seminorm_sentences_say_fewer_or_more_from_the_sign():
    paper_comparison = load_experiment_module("seminorm_vs_norm").paper_comparison
    saved, cost = paper_comparison(reductions(0.5)), paper_comparison(reductions(-0.2))
    assert "a median 50% fewer backward evaluations" in saved[0] and "above the paper's median" in saved[0]
    assert "a median 20% more backward evaluations" in cost[0] and "below the paper's median" in cost[0]
    assert "25% fewer" in saved[1] and "10% more" in cost[1]


def stability_frame(mildest: float) -> pd.DataFrame:
    rows = [dict(problem="linear_decay", method="reversible_heun", coupling=None, ha=ha, dt=1.0, steps=100,
                 spectral_radius=1.0, growth=float("nan"), reconstruction_error_float32=1e-7)
            for ha in (-2.0, mildest)]
    rows.append(dict(problem="neural_sde", method="reversible_heun", coupling=None, ha=float("nan"), dt=1.0,
                     steps=64, spectral_radius=float("nan"), growth=1.0, reconstruction_error_float32=1e-6))
    return pd.DataFrame(rows)


def test_reversible_stability_names_the_mildest_decay_it_tested():
    summary = load_experiment_module("reversible_stability").summary
    assert "mildest decay tested, h a = -0.3," in summary(stability_frame(-0.3), "python x.py")
    assert "mildest decay tested, h a = -0.05," in summary(stability_frame(-0.05), "python x.py")
    assert "- a note from --note" in summary(stability_frame(-0.3), "python x.py", ["a note from --note"])


def test_training_comparison_states_the_counted_evaluation_ratios():
    training_runs = load_experiment_module("training_runs")
    ratio = pd.DataFrame(dict(task=["ou"], forward_evaluations_ratio=[0.984], backward_vjps_ratio=[1.97]))
    assert training_runs.evaluation_ratios(ratio) == "ou: 0.984x forward evaluations, 1.97x backward VJPs"


EXPERIMENTS_DIR = load_experiment_module("results_table").DEFAULT_OUTPUT_DIR.parent / "experiments"


@pytest.mark.parametrize("program", sorted(path.name for path in EXPERIMENTS_DIR.glob("*.py")))
def test_no_fixed_machine_load_claims(program):
    source = (EXPERIMENTS_DIR / program).read_text()
    for claim in ("shared with other jobs", "The CPU was shared", "upper bounds rather than best cases"):
        assert claim not in source


def test_training_comparison_budget_says_reduced_only_when_it_is():
    training_runs = load_experiment_module("training_runs")
    clip, penalty = training_runs.Setting("ou/clip", "ou_sde_gan"), training_runs.Setting("ou/gp", "ou_sde_gan_gp")
    assert training_runs.budget_reductions([clip, penalty], []) == []
    assert training_runs.budget_reductions([clip, penalty], ["trainer.max_steps=2", "dataset.batch_size=32"]) == [
        "ou/clip trainer.max_steps 2 of 10000, dataset.batch_size 32 of 1024",
        "ou/gp trainer.max_steps 2 of 60000, dataset.batch_size 32 of 1024"]
    per_setting = training_runs.budget_reductions([clip, penalty], [], {"ou/gp": ["trainer.max_steps=600"]})
    assert per_setting == ["ou/gp trainer.max_steps 600 of 60000"]

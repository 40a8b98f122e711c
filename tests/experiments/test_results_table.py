"""The shared results writer: summaries, the .md table, and the parser the other tests rely on."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.experiments.results_files import check_results, load_experiment_module

results_table = load_experiment_module("results_table")


def raw_results() -> pd.DataFrame:
    return pd.DataFrame(dict(method=["a", "a", "b", "b", "c"], seed=[0, 1, 0, 1, 0],
                             time_s=[1.0, 3.0, 10.0, 14.0, 5.0]))


def test_summarise_gives_mean_std_and_count_in_first_seen_order():
    table = results_table.summarise(raw_results(), by=["method"], values=["time_s"],
                                    statistics=("median", "mean", "std"))
    assert list(table.method) == ["a", "b", "c"]
    assert list(table.time_s_mean) == [2.0, 12.0, 5.0]
    assert table.time_s_std[0] == pytest.approx(math.sqrt(2.0))
    assert math.isnan(table.time_s_std[2])
    assert list(table.n) == [2, 2, 1]


def test_summarise_rejects_unknown_columns_and_statistics():
    with pytest.raises(ValueError, match="available"):
        results_table.summarise(raw_results(), by=["solver"], values=["time_s"])
    with pytest.raises(ValueError, match="valid"):
        results_table.summarise(raw_results(), by=["method"], values=["time_s"], statistics=("mode",))


def test_markdown_table_round_trips_through_the_parser():
    table = results_table.summarise(raw_results(), by=["method"], values=["time_s"])
    shown = results_table.read_markdown_table(results_table.markdown_table(table), "method")
    assert list(shown.columns) == ["method", "time_s (mean ± std)", "n"]
    assert list(shown["time_s (mean ± std)"]) == ["2 ± 1.414", "12 ± 2.828", "5"]


def test_write_results_files_agree(tmp_path):
    table = results_table.summarise(raw_results(), by=["method"], values=["time_s"])

    def plot(path):
        path.write_bytes(b"\x89PNG" + b"0" * 2000)

    paths = results_table.write_results(
        "demo", table, tmp_path, title="Demo", description="what", budget="tiny",
        paper=[results_table.PaperFigure("speed", "2x", "1.5x")], plot=plot,
        command="python experiments/demo.py --quick",
    )
    assert set(paths) == {"csv", "md", "png"}
    check_results(tmp_path, "demo", ["--quick"])


def test_check_results_catches_a_table_that_disagrees(tmp_path):
    table = results_table.summarise(raw_results(), by=["method"], values=["time_s"])
    results_table.write_results("demo", table, tmp_path, title="Demo", description="what", budget="tiny",
                                paper=[results_table.PaperFigure("speed", "2x", "1.5x")],
                                plot=lambda path: path.write_bytes(b"0" * 2000),
                                command="python experiments/demo.py --quick")
    edited = pd.read_csv(tmp_path / "demo.csv")
    edited.loc[1, "time_s_mean"] = 13.0
    edited.to_csv(tmp_path / "demo.csv", index=False)
    with pytest.raises(AssertionError):
        check_results(tmp_path, "demo", ["--quick"])


def test_quick_runs_never_write_the_committed_results():
    import measure

    parser = measure.experiment_arguments("x")
    assert parser.parse_args(["--quick"]).output_dir == measure.QUICK_OUTPUT_DIR
    assert parser.parse_args([]).output_dir == measure.DEFAULT_OUTPUT_DIR
    assert measure.QUICK_OUTPUT_DIR != measure.DEFAULT_OUTPUT_DIR
    assert str(parser.parse_args(["--quick", "--output", "/tmp/x"]).output_dir) == "/tmp/x"

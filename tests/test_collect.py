"""sdegan-collect: a sweep's runs in one table, grouped by overrides, mean +- std over seeds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sdegan.collect import collect, main
from sdegan.errors import ConfigurationError, DataError, MissingFileError


def _run(root: Path, name: str, overrides: list[str], summary: dict | None) -> Path:
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if summary is not None:
        (run / "summary.json").write_text(json.dumps(summary))
    return run


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    values = {("midpoint", 0): 3.0, ("midpoint", 1): 5.0, ("reversible_heun", 0): 1.0, ("reversible_heun", 1): 2.0}
    for number, ((solver, seed), mmd) in enumerate(values.items()):
        _run(tmp_path, f"{number}_solver={solver},seed={seed}", [f"solver={solver}", f"seed={seed}"],
             {"mmd_trained": mmd, "test/mmd": 10 * mmd, "run_dir": "x", "num_real_test_paths": 32})
    _run(tmp_path, "4_unfinished", ["solver=midpoint", "seed=2"], None)
    return tmp_path


def test_groups_by_overrides_except_seed_with_mean_and_std(sweep: Path) -> None:
    raw, summary, unfinished = collect(sweep)
    assert len(raw) == 4 and len(unfinished) == 1
    rows = summary.set_index("solver")
    assert list(rows.index) == ["midpoint", "reversible_heun"]
    assert rows.loc["midpoint", "mmd_trained_mean"] == pytest.approx(4.0)
    assert rows.loc["midpoint", "mmd_trained_std"] == pytest.approx(math.sqrt(2.0))
    assert rows.loc["reversible_heun", "test/mmd_mean"] == pytest.approx(15.0)
    assert (rows["n"] == 2).all()
    assert "seed" not in summary.columns


def test_cli_writes_csv_and_markdown_that_agree(sweep: Path, capsys: pytest.CaptureFixture) -> None:
    main([str(sweep)])
    table = pd.read_csv(sweep / "collected.csv")
    markdown = (sweep / "collected.md").read_text()
    assert len(table) == 2 and "mmd_trained (mean ± std)" in markdown
    assert "4 ± 1.414" in markdown  # midpoint's mean and std, as in the .csv
    assert len(pd.read_csv(sweep / "runs.csv")) == 4
    assert "1 run(s) without results skipped" in capsys.readouterr().out


def test_group_by_chosen_keys(sweep: Path) -> None:
    _, summary, _ = collect(sweep, by=["seed"])
    assert sorted(summary["seed"].astype(str)) == ["0", "1"]
    with pytest.raises(ConfigurationError, match="not an override"):
        collect(sweep, by=["model"])


def test_bad_folders_get_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="not a directory"):
        collect(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no finished run"):
        collect(tmp_path)
    with pytest.raises(SystemExit, match="sdegan-collect: .*no finished run"):
        main([str(tmp_path)])

"""``sdegan-train model=sde_sigker`` trains from the command line on every dataset (tiny budget)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.data.fixtures import write_air_quality_fixture
from tests.entry_points.test_train_cli import BIN, TINY, run

REPO = Path(__file__).resolve().parents[2]
REAL_AIR_QUALITY = "PRSA2017_Data_20130301-20170228.zip"


def real_air_quality() -> Path | None:
    """The real Beijing zip beside the repository (``../shared/data``; from a worktree ``../../shared``)."""
    for shared in (REPO.parent / "shared", REPO.parent.parent / "shared"):
        if (shared / "data" / REAL_AIR_QUALITY).is_file():
            return shared / "data" / REAL_AIR_QUALITY
    return None


def dataset_overrides(name: str, tmp_path: Path) -> list[str]:
    if name == "weights":
        return ["dataset=weights", f"dataset.cache_dir={tmp_path / 'cache'}"]
    if name == "air_quality":
        return ["dataset=air_quality", f"dataset.path={write_air_quality_fixture(tmp_path / 'raw', days=60)}"]
    if name == "air_quality_real":
        path = real_air_quality()
        if path is None:
            pytest.skip(f"the real {REAL_AIR_QUALITY} is not in ../shared/data")
        return ["dataset=air_quality", f"dataset.path={path}"]
    return [f"dataset={name}"]


SLOW = pytest.mark.slow  # ~15 s each on 2 cores; OU and the air-quality fixture (gaps) run by default


@pytest.mark.parametrize("dataset", [
    "ou", "air_quality", pytest.param("weights", marks=SLOW), pytest.param("csv", marks=SLOW),
    pytest.param("air_quality_real", marks=SLOW),
])
def test_sde_sigker_trains_on_every_dataset(tmp_path, dataset):
    run_dir = tmp_path / "run"
    command = [str(BIN / "sdegan-train"), "model=sde_sigker", *dataset_overrides(dataset, tmp_path), *TINY,
               "logger=csv", f"hydra.run.dir={run_dir}"]
    result = run(command, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["mmd_trained"] == summary["mmd_trained"]  # finite, not NaN
    metrics = (run_dir / "csv" / "metrics.csv").read_text()
    assert "train/loss" in metrics and "val/score" in metrics
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()

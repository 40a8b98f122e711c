"""A plain (non-editable) install works: the wheel carries the configs, and sdegan-train runs from it outside
the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
TINY = ["trainer.max_steps=2", "dataset.num_paths=64", "dataset.batch_size=16", "summary_samples=16",
        "metrics=quick", "logger=csv", "trainer.enable_progress_bar=false", "trainer.val_check_interval=2",
        "trainer.checkpoint_every_n_steps=2"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"  # a copy: a build leaves build/ and *.egg-info behind, which must not reach the checkout
    shutil.copytree(REPOSITORY, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "outputs", "multirun", "build", "*.egg-info", "__pycache__", "results", "wandb"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(out), str(source)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = out.glob("sdegan-*.whl")
    return path


def test_the_wheel_carries_the_configs(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "sdegan/configs/train.yaml" in names
    for group in ("dataset", "model", "solver", "gradient", "brownian", "experiment", "hparams_search"):
        assert any(name.startswith(f"sdegan/configs/{group}/") for name in names), group


@pytest.mark.slow
def test_a_fresh_environment_with_the_wheel_trains(wheel: Path, tmp_path: Path) -> None:
    environment = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(environment)], check=True, timeout=120)
    python = environment / "bin" / "python"
    purelib = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                           text=True).strip())
    # The dependencies (torch, hydra, ...) come from this environment's site-packages, added as a path entry:
    # its .pth files (among them the editable install of this checkout) are not processed from there.
    (purelib / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(purelib), str(wheel)],
                   check=True, timeout=300)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(WANDB_MODE="offline", OMP_NUM_THREADS="1")
    where = subprocess.check_output([str(python), "-c", "import sdegan.config_dir as c; print(c.CONFIG_DIR)"],
                                    cwd=workdir, env=env, text=True).strip()
    assert Path(where).is_relative_to(purelib) and (Path(where) / "train.yaml").is_file()
    run = subprocess.run([str(python), "-c", "from sdegan.train import main; main()", *TINY, "hydra.run.dir=run"],
                         cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert json.loads((workdir / "run" / "summary.json").read_text())["mmd_trained"] is not None

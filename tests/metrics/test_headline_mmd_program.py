"""experiments/headline_mmd.py --quick runs on every dataset and writes matching .csv and .md files;
the raw kernel is unbounded where the normalised one stays within [0, 4]."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.data.fixtures import write_air_quality_fixture

REPOSITORY = Path(__file__).resolve().parents[2]


def test_quick_run_on_every_dataset(tmp_path):
    archive = write_air_quality_fixture(tmp_path / "air", days=120)
    subprocess.run([sys.executable, str(REPOSITORY / "experiments" / "headline_mmd.py"), "--quick",
                    "--air-quality-path", str(archive), "--output-dir", str(tmp_path / "out")],
                   check=True, cwd=tmp_path, timeout=300)
    table = pd.read_csv(tmp_path / "out" / "headline_mmd.csv")
    assert set(table["experiment"]) == {"ou_sde_gan", "weights_sde_gan", "air_quality_latent_sde",
                                        "air_quality_sde_gan"}
    assert len(table) == 4 * 2 * 3
    normalised = table[table["kernel"] == "normalised"]
    assert normalised["mmd2"].between(-0.1, 4.0).all()
    untrained = table[table["compared_with"] == "untrained generator"].set_index(["experiment", "kernel"])
    assert (untrained.xs("linear", level="kernel")["mmd2"] > 4.0).any()  # the raw kernel is unbounded
    markdown = (tmp_path / "out" / "headline_mmd.md").read_text()
    assert "Command: `python experiments/headline_mmd.py --quick" in markdown
    assert len([line for line in markdown.splitlines() if line.startswith("| ")]) == len(table) + 1

"""experiments/metric_speed.py --quick keeps working and writes matching .csv and .md files."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

REPOSITORY = Path(__file__).resolve().parents[2]


def test_quick_run_writes_matching_csv_and_markdown(tmp_path):
    subprocess.run([sys.executable, str(REPOSITORY / "experiments" / "metric_speed.py"), "--quick",
                    "--output-dir", str(tmp_path)], check=True, cwd=REPOSITORY, timeout=300)
    table = pd.read_csv(tmp_path / "metric_speed.csv")
    assert set(table["metric"]) == {"signature_mmd", "classification", "prediction", "predictive_score"}
    assert (table["median_s"] > 0).all()
    markdown = (tmp_path / "metric_speed.md").read_text()
    assert "Command: `python experiments/metric_speed.py --quick" in markdown
    assert "Machine: " in markdown
    table_rows = [line for line in markdown.splitlines() if line.startswith("| ")][1:]
    assert len(table_rows) == len(table)
    for line, variant in zip(table_rows, table["variant"]):
        assert f"| {variant} |" in line

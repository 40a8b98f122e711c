"""The README's promises: the two set-up commands, CI running the test command, current results tables."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_gives_the_two_setup_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/run.sh" in readme and "bash scripts/test.sh" in readme
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    for script in ("run.sh", "test.sh", "setup_env.sh"):
        assert (ROOT / "scripts" / script).is_file()


def test_readme_results_section_matches_results_files():
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "readme_results.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr

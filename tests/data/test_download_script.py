"""scripts/download_air_quality.sh unwraps the UCI download (run here on a local file:// copy, no network)."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.data.fixtures import write_air_quality_fixture

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "download_air_quality.sh"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl (which reads file:// URLs)")
def test_script_unwraps_the_uci_download_and_is_idempotent(tmp_path):
    archive = write_air_quality_fixture(tmp_path / "source", days=2)
    wrapper = tmp_path / "uci.zip"
    with zipfile.ZipFile(wrapper, "w") as stream:
        stream.write(archive, archive.name)
    environment = {**os.environ, "AIR_QUALITY_URL": wrapper.as_uri(), "TMPDIR": str(tmp_path)}
    destination = tmp_path / "raw"
    result = subprocess.run(["bash", str(SCRIPT), str(destination)], env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (destination / archive.name).read_bytes() == archive.read_bytes()
    assert "3 station files" in result.stdout
    again = subprocess.run(["bash", str(SCRIPT), str(destination)], env=environment, capture_output=True, text=True)
    assert again.returncode == 0 and "already exists" in again.stdout

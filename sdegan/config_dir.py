"""Where the Hydra configs live: inside the package (``sdegan/configs``), so a plain ``pip install`` has them."""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = str(Path(__file__).resolve().parent / "configs")

__all__ = ["CONFIG_DIR"]

"""The console scripts' entry points: a Ctrl-C at any moment ends in one line, never a traceback.

Each program's own module is imported here, inside the guard, because importing torch and Lightning
takes seconds and a Ctrl-C then would otherwise print the import's traceback. ``sdegan-train`` reports
interruptions during training itself (with the last good checkpoint and the command that resumes it).
"""

from __future__ import annotations

import importlib


def _run(program: str, module: str) -> None:
    try:
        entry_point = importlib.import_module(module).main
    except KeyboardInterrupt:
        raise SystemExit(f"{program} interrupted while starting; nothing was written") from None
    try:
        entry_point()
    except KeyboardInterrupt:
        raise SystemExit(f"{program} interrupted") from None


def train() -> None:
    """``sdegan-train``."""
    _run("sdegan-train", "sdegan.train")


def evaluate() -> None:
    """``sdegan-evaluate``."""
    _run("sdegan-evaluate", "sdegan.evaluate")


def sample() -> None:
    """``sdegan-sample``."""
    _run("sdegan-sample", "sdegan.sample")


def collect() -> None:
    """``sdegan-collect``."""
    _run("sdegan-collect", "sdegan.collect")

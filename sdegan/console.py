"""The console scripts' entry points: a Ctrl-C at any moment ends in one line, never a traceback.

Each program's own module is imported here, inside the guard, because importing torch and Lightning
takes seconds and a Ctrl-C then would otherwise print the import's traceback. ``sdegan-train`` reports
interruptions during training itself (with the last good checkpoint and the command that resumes it).
"""

from __future__ import annotations

import importlib
import signal
from typing import Callable


def _import_entry_point(module: str) -> Callable[[], None]:
    """``module.main``, imported with Ctrl-C held back: an interrupt landing inside the C++ of torch's import
    would end the process in ``terminate`` (``what(): KeyboardInterrupt``) instead of this module's one line; held
    back, it is raised here as soon as the import is done. (Threads the import starts keep SIGINT blocked, so it
    still reaches the main thread.)"""
    if not hasattr(signal, "pthread_sigmask"):  # not on Windows
        return importlib.import_module(module).main
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return importlib.import_module(module).main
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a pending Ctrl-C is raised now


def _run(program: str, module: str) -> None:
    try:
        entry_point = _import_entry_point(module)
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

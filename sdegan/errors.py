"""The project's own exception types for bad configuration and bad data.

Entry points (``sdegan-train``, ``sdegan-evaluate``, ...) print an :class:`InputError` as one line and
exit non-zero; every other exception keeps its traceback, so a bug never looks like a user mistake.

- :class:`ConfigurationError` (also a ``ValueError``): an invalid choice or value in a config or call;
- :class:`DataError` (a ``ConfigurationError``): a dataset file or tensor that cannot be used as given;
- :class:`MissingFileError` (also a ``FileNotFoundError``): a file the run needs is not there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["InputError", "ConfigurationError", "DataError", "MissingFileError", "input_error_cause", "exit_on_input_error"]


class InputError(Exception):
    """Base of every error caused by what the user gave (config, arguments, files), not by a bug."""


class ConfigurationError(InputError, ValueError):
    """An invalid choice, combination or value in a config or a function call; the message names the fix."""


class DataError(ConfigurationError):
    """Data that cannot be used as given (malformed file, bad values, wrong shape); the message says where."""


class MissingFileError(InputError, FileNotFoundError):
    """A file or directory the run needs does not exist; the message says which and how to provide it."""


def input_error_cause(error: BaseException) -> InputError | None:
    """The :class:`InputError` that ``error`` is or wraps (Hydra's ``instantiate`` wraps constructor errors), else None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, InputError):
            return current
        seen.add(id(current))
        current = current.__cause__
    return None


@contextlib.contextmanager
def exit_on_input_error(program: str) -> Iterator[None]:
    """Turns an :class:`InputError` (also when wrapped) into ``SystemExit("<program>: <message>")``.

    Every other exception propagates with its traceback.
    """
    try:
        yield
    except Exception as error:
        cause = input_error_cause(error)
        if cause is None:
            raise
        raise SystemExit(f"{program}: {cause}") from None

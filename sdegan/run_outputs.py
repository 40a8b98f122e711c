"""Writing a run's files so that a fault never leaves a half-written one: atomic files, strict JSON."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["DISK_FULL_ERRNOS", "atomic_file", "json_ready", "write_json"]

# Write failures that mean "no room" (full disk, exceeded quota) rather than a bug.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[IO[bytes]]:
    """Open a temporary file next to ``path`` for writing; on success it is flushed, fsynced and renamed
    onto ``path`` (and the directory fsynced), so ``path`` holds either its old or its complete new
    content. On any error the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def json_ready(value: Any) -> Any:
    """``value`` with every NaN/inf float (also inside dicts, lists, tuples) replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as strict JSON (NaN/inf as ``null``), atomically."""
    text = json.dumps(json_ready(data), indent=2, allow_nan=False)
    with atomic_file(path) as file:
        file.write(text.encode())

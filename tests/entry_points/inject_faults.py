"""Run ``sdegan-train`` with a simulated full disk: ``python inject_faults.py <fault> <overrides...>``.

Faults (no root, no real small filesystem needed):
    checkpoint:<n>   the n-th checkpoint file written (1-based) fails with ENOSPC after half its bytes;
    samples          writing the figure ``samples.png`` fails with ENOSPC.
"""

from __future__ import annotations

import errno
import sys


def _no_space(path: object = None) -> OSError:
    return OSError(errno.ENOSPC, "No space left on device", None if path is None else str(path))


def _fail_checkpoint(number: int) -> None:
    import torch

    real_save = torch.save
    calls = {"n": 0}

    def save(obj, file, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == number:
            file.write(b"\0" * 1000)  # a partial write, then the disk is full
            raise _no_space()
        return real_save(obj, file, *args, **kwargs)

    torch.save = save


def _fail_samples_png() -> None:
    from matplotlib.figure import Figure

    def savefig(self, fname, *args, **kwargs):
        raise _no_space(fname)

    Figure.savefig = savefig


if __name__ == "__main__":
    fault, overrides = sys.argv[1], sys.argv[2:]
    if fault.startswith("checkpoint:"):
        _fail_checkpoint(int(fault.split(":", 1)[1]))
    elif fault == "samples":
        _fail_samples_png()
    else:
        raise SystemExit(f"unknown fault {fault!r}")
    sys.argv = ["sdegan-train", *overrides]
    from sdegan.train import main

    main()

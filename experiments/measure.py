"""Measuring helpers shared by the solver benchmarks: wall time, saved-for-backward bytes, function evaluations.

    seconds = time_call(lambda: loss_fn().backward())            # one timed call
    with SavedTensorBytes() as saved:                              # bytes autograd keeps for backward
        loss = loss_fn()
    with EvaluationCount(network) as count:                        # forward calls of a module
        loss.backward()
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from results_table import DEFAULT_OUTPUT_DIR


def time_call(fn: Callable[[], Any]) -> float:
    """Wall-clock seconds of one call of ``fn``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class SavedTensorBytes:
    """Context manager counting the bytes of every tensor autograd saves for the backward pass inside it.

    Uses ``torch.autograd.graph.saved_tensors_hooks``; a tensor saved twice (or a view of a stored tensor) is
    counted once per distinct storage. ``bytes`` holds the total after the block.
    """

    def __init__(self) -> None:
        self.bytes = 0
        self._storages: set[tuple[int, int]] = set()
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor)

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        key = (storage.data_ptr(), storage.nbytes())
        if key not in self._storages:
            self._storages.add(key)
            self.bytes += storage.nbytes()
        return tensor

    def __enter__(self) -> "SavedTensorBytes":
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._hooks.__exit__(*exc)


class EvaluationCount:
    """Context manager counting forward calls of ``module`` (vector-field evaluations) inside the block."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.count = 0
        self._handle: Any = None

    def _hook(self, module: nn.Module, args: Any, output: Any) -> None:
        self.count += 1

    def __enter__(self) -> "EvaluationCount":
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._handle.remove()


QUICK_OUTPUT_DIR = DEFAULT_OUTPUT_DIR.parent / "outputs" / "quick_results"


class ExperimentParser(argparse.ArgumentParser):
    """An argument parser whose ``--quick`` runs write to :data:`QUICK_OUTPUT_DIR` unless told otherwise.

    The committed ``results/`` are only ever written by full-size runs (or by an explicit ``--output-dir``).
    """

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        parsed = super().parse_args(args, namespace)
        if parsed.output_dir is None:
            parsed.output_dir = QUICK_OUTPUT_DIR if parsed.quick else DEFAULT_OUTPUT_DIR
        return parsed


def experiment_arguments(description: str) -> argparse.ArgumentParser:
    """The options every experiment program takes: ``--quick``, ``--output-dir`` and ``--note``."""
    parser = ExperimentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds); for tests and smoke runs")
    parser.add_argument(
        "--output-dir",
        "--output",
        dest="output_dir",
        type=Path,
        default=None,
        help=f"folder for <name>.csv/.md/.png (default {DEFAULT_OUTPUT_DIR}; with --quick {QUICK_OUTPUT_DIR})",
    )
    parser.add_argument("--note", action="append", default=[], metavar="TEXT",
                        help="a line for the .md's notes (e.g. what else ran on the machine); repeatable")
    return parser


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    """max |value - reference| / max |reference| (the reference's scale, so near-zero entries do not blow up)."""
    scale = reference.abs().max().clamp_min(torch.finfo(reference.dtype).tiny)
    return float((value.to(reference.dtype) - reference).abs().max() / scale)


__all__ = ["time_call", "SavedTensorBytes", "EvaluationCount", "QUICK_OUTPUT_DIR", "ExperimentParser",
           "experiment_arguments", "relative_error"]

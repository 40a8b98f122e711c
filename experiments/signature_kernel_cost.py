"""Time and memory of one signature-kernel score and its gradient; writes results/signature_kernel_cost.{csv,md,png}.

    python experiments/signature_kernel_cost.py            # OU-sized paths (64 observations), batches up to 128
    python experiments/signature_kernel_cost.py --quick    # tiny sizes, seconds (the tests run this)

Each case computes ``signature_kernel_score(generated, real, kernel)`` (sdegan/models/signature_kernel_score.py)
for ``m`` generated paths (requiring gradients) against ``n`` real paths, then its backward pass, in a fresh
process with one torch thread, in float32 as in training. Measured: forward and backward wall time (median of
``repeats``); the bytes autograd keeps for the backward pass (``saved_MB``, exact, machine-independent); and the
process's peak resident memory above its baseline after the imports and an untimed warm-up call on two paths
(``peak_rss_MB``). The pairs per score are
``m (m - 1) / 2 + m n``; without chunking the PDE kernel keeps each pair's solution grid,
``(2^dyadic_order (L - 1) + 1)^2`` numbers for paths of ``L`` points (the prepared paths have the basepoint too),
so memory grows as pairs x grid; with ``max_pairs`` smaller than the pairs the chunks are recomputed in the
backward pass and the memory is bounded by one chunk's grids.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from measure import SavedTensorBytes, experiment_arguments  # noqa: E402
from results_table import PaperFigure, write_results  # noqa: E402

NAME = "signature_kernel_cost"
UNBOUNDED = 10**9


def cases(quick: bool) -> list[dict]:
    """The measured settings: batch sizes, refinement, chunking, static kernel and backend."""
    length = 8 if quick else 64
    base = dict(length=length, backend="pysiglib", static_kernel="rbf", dyadic_order=0, max_pairs=1024)
    sizes = [4, 8] if quick else [32, 64, 128]
    rows = [dict(base, m=size, n=size) for size in sizes]
    big = sizes[-2]
    rows += [
        dict(base, m=big, n=big, max_pairs=UNBOUNDED),
        dict(base, m=sizes[0], n=sizes[0], dyadic_order=1),
        dict(base, m=sizes[0], n=sizes[0], static_kernel="linear"),
        dict(base, m=sizes[-1], n=sizes[-1], backend="signatory", static_kernel="linear"),
    ]
    if quick:  # small chunks, so the checkpointed path runs too
        rows = [row if row["max_pairs"] == UNBOUNDED else dict(row, max_pairs=4) for row in rows]
    return rows


def ou(num_paths: int, length: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    values = (0.3 * torch.randn(num_paths, length, generator=generator)).cumsum(1)
    times = torch.arange(float(length)).expand(num_paths, length)
    return torch.stack([times, values], dim=-1)


def measure_case(case: dict, repeats: int) -> dict:
    """Run one case in this process (called in a fresh subprocess by :func:`main`)."""
    from sdegan.models.signature_kernel_score import SignatureKernel, signature_kernel_score

    torch.set_num_threads(1)
    kernel = SignatureKernel(time_span=(0.0, case["length"] - 1.0), backend=case["backend"],
                             static_kernel=case["static_kernel"], dyadic_order=case["dyadic_order"],
                             max_pairs=case["max_pairs"])
    real = ou(case["n"], case["length"], seed=0)
    warm_up = ou(2, case["length"], seed=99).requires_grad_(True)  # loads the backend's library, untimed
    signature_kernel_score(warm_up, real[:2], kernel).backward()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    forward, backward, saved = [], [], 0
    for repeat in range(repeats):
        values = ou(case["m"], case["length"], seed=1 + repeat)[..., 1:].requires_grad_(True)
        generated = torch.cat([real[:1, :, :1].expand(case["m"], -1, -1), values], dim=-1)
        started = time.perf_counter()
        with SavedTensorBytes() as saved_bytes:
            score = signature_kernel_score(generated, real, kernel)
        middle = time.perf_counter()
        score.backward()
        forward.append(middle - started)
        backward.append(time.perf_counter() - middle)
        saved = saved_bytes.bytes
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return dict(forward_s=statistics.median(forward), backward_s=statistics.median(backward),
                saved_MB=saved / 2**20, peak_rss_MB=(peak - baseline) / 1024)


def run_case(case: dict, repeats: int) -> dict:
    command = [sys.executable, __file__, "--case", json.dumps(case), "--repeats", str(repeats)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPOSITORY)
    if result.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = experiment_arguments(__doc__.splitlines()[0])
    parser.add_argument("--case", help=argparse.SUPPRESS)  # one case, in a fresh process
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per case (default 3; quick 1)")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    if args.case:
        print(json.dumps(measure_case(json.loads(args.case), repeats)))
        return
    output_dir = args.output_dir
    if args.quick and output_dir == REPOSITORY / "results":  # quick runs never overwrite the committed results
        output_dir = REPOSITORY / "outputs" / "experiments" / f"{NAME}_quick"
    rows = []
    for case in cases(args.quick):
        print(f"case {case}", file=sys.stderr, flush=True)
        m, n = case["m"], case["n"]
        grid = (2 ** case["dyadic_order"] * case["length"] + 1) ** 2  # prepared paths: length + 1 points
        row = dict(case, max_pairs="none" if case["max_pairs"] == UNBOUNDED else case["max_pairs"],
                   pairs=m * (m - 1) // 2 + m * n, grid_points=grid if case["backend"] == "pysiglib" else 0)
        row.update(run_case(case, repeats))
        rows.append(row)
    table = pd.DataFrame(rows)
    pde = table[(table.backend == "pysiglib") & (table.static_kernel == "rbf") & (table.dyadic_order == 0)]
    per_pair_us = 1e6 * (pde.forward_s + pde.backward_s) / pde.pairs
    write_results(
        NAME, table, output_dir,
        title="Signature-kernel score: time and memory",
        description=__doc__.split("\n\n", 2)[2].strip(),
        budget=f"{'quick mode' if args.quick else 'full'}: {repeats} timed call(s) per case, one torch thread",
        paper=[PaperFigure("PDE-kernel cost per path pair (forward + backward)", "not reported",
                           f"{per_pair_us.median():.3g} us per pair (median over the rbf, dyadic 0 rows)")],
        notes=["max_pairs 'none': no chunking (the whole score in one kernel call per term), the unbounded case."],
        plot=plot(table),
    )
    print(f"written to {output_dir / NAME}.csv/.md/.png")


def plot(table: pd.DataFrame):
    def draw(path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        labels = [f"{r.backend} {r.static_kernel} m={r.m} d={r.dyadic_order} chunk={r.max_pairs}"
                  for r in table.itertuples()]
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        axes[0].barh(labels, table.forward_s + table.backward_s)
        axes[0].set_xlabel("forward + backward (s)")
        axes[1].barh(labels, table.peak_rss_MB)
        axes[1].set_xlabel("peak resident memory above baseline (MB)")
        for axis in axes:
            axis.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)

    return draw


if __name__ == "__main__":
    main()

"""Cost of one training step, conditional vs unconditional signature-kernel score; writes
results/sigker_conditional_cost.{csv,md,png}.

    python experiments/sigker_conditional_cost.py            # OU-sized paths (64 observations), batches of 32
    python experiments/sigker_conditional_cost.py --quick    # tiny sizes, seconds (the tests run this)

Each case builds the model's LightningModule as ``sdegan-train`` does (its defaults: hidden size 16, reversible
Heun with reversible gradients, dt 1, the PDE kernel with the RBF static kernel) and times its training loss
and its backward pass (``model.score(batch)[0].backward()``: generator solve, kernel, gradients; Adam's update
is left out) on one batch of real OU-like paths with 30% of the values missing, one torch thread, median of
``repeats`` calls after one untimed warm-up. ``model=sde_sigker`` draws ``num_generated`` paths over all the
times and scores them against ``real_batch_size`` real paths (``m (m - 1) / 2 + m n`` kernel pairs of full
paths); ``model=sde_sigker_conditional`` draws ``samples_per_prefix`` continuations of each of
``num_prefixes`` prefixes of ``prefix_length`` points (half the times, the default, or 1: continuations about
as long as the unconditional paths) and scores each prefix's against its own continuation
(``n m (m + 1) / 2`` pairs of continuations).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import torch

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from measure import experiment_arguments  # noqa: E402
from results_table import PaperFigure, write_results  # noqa: E402

NAME = "sigker_conditional_cost"
SOLVE_OPTIONS = {"method": "reversible_heun", "gradient": "reversible", "brownian": "interval", "dt": 1.0,
                 "coupling": None, "grid_policy": "divide"}


def cases(quick: bool) -> list[dict]:
    """The measured models at equal real batch size (and hidden sizes)."""
    batch, half = (4, 4) if quick else (32, 32)
    return [
        dict(model="sde_sigker", m=batch, n=batch, prefix_length=0),
        dict(model="sde_sigker_conditional", m=4, n=batch, prefix_length=half),
        dict(model="sde_sigker_conditional", m=8, n=batch, prefix_length=half),
        dict(model="sde_sigker_conditional", m=4, n=batch, prefix_length=1),
    ]


def real_paths(num_paths: int, length: int) -> torch.Tensor:
    """Mean-reverting paths with 30% of the values missing (the first kept), in the path format."""
    generator = torch.Generator().manual_seed(0)
    values = torch.empty(num_paths, length)
    values[:, 0] = torch.rand(num_paths, generator=generator) * 2 - 1
    for i in range(1, length):
        values[:, i] = 0.9 * values[:, i - 1] + 0.3 * torch.randn(num_paths, generator=generator)
    drop = torch.rand(num_paths, length, generator=generator) < 0.3
    drop[:, 0] = False
    values[drop] = float("nan")
    return torch.stack([torch.arange(float(length)).expand(num_paths, length), values], dim=-1)


def build(case: dict, times: torch.Tensor):
    from sdegan.training import SDESigKer, SDESigKerConditional

    if case["model"] == "sde_sigker":
        return SDESigKer(1, times, SOLVE_OPTIONS, num_generated=case["m"], real_batch_size=case["n"])
    return SDESigKerConditional(1, times, SOLVE_OPTIONS, samples_per_prefix=case["m"], num_prefixes=case["n"],
                                prefix_length=case["prefix_length"])


def pairs(case: dict) -> int:
    m, n = case["m"], case["n"]
    return m * (m - 1) // 2 + m * n if case["model"] == "sde_sigker" else n * m * (m + 1) // 2


def measure(case: dict, length: int, repeats: int) -> dict:
    torch.manual_seed(0)
    batch = real_paths(case["n"], length)
    model = build(case, batch[0, :, 0])
    model._set_value_scale(batch)
    seconds = []
    for repeat in range(repeats + 1):
        model.zero_grad()
        started = time.perf_counter()
        model.score(batch)[0].backward()
        if repeat:  # the first call is the untimed warm-up
            seconds.append(time.perf_counter() - started)
    conditional = case["model"] != "sde_sigker"
    generated = case["n"] * case["m"] if conditional else case["m"]
    scored_length = length - case["prefix_length"]
    return dict(case, length=length, scored_length=scored_length, generated_paths=generated, pairs=pairs(case),
                step_s=statistics.median(seconds))


def main() -> None:
    parser = experiment_arguments(__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None, help="timed steps per case (default 5; quick 1)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    repeats = args.repeats or (1 if args.quick else 5)
    length = 8 if args.quick else 64
    rows = []
    for case in cases(args.quick):
        print(f"case {case}", file=sys.stderr, flush=True)
        rows.append(measure(case, length, repeats))
    table = pd.DataFrame(rows)
    table["vs_unconditional"] = table.step_s / float(table.step_s.iloc[0])
    write_results(
        NAME, table, args.output_dir,
        title="Signature-kernel score: a conditional training step vs an unconditional one",
        description=__doc__.split("\n\n", 2)[2].strip(),
        budget=f"{'quick mode' if args.quick else 'full'}: {repeats} timed step(s) per case, one torch thread",
        paper=[PaperFigure("conditional vs unconditional step cost", "not reported",
                           f"{table.vs_unconditional.iloc[1]:.3g}x at m = {table.m.iloc[1]}, "
                           f"{table.vs_unconditional.iloc[2]:.3g}x at m = {table.m.iloc[2]}")],
        notes=["m: generated paths per step (sde_sigker) or continuations per prefix (conditional); n: real paths; "
               "prefix_length 0: the unconditional model (no prefix)."],
        plot=plot(table),
    )
    print(f"written to {args.output_dir / NAME}.csv/.md/.png")


def plot(table: pd.DataFrame):
    def draw(path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        labels = [f"{r.model} m={r.m} n={r.n} prefix={r.prefix_length}" for r in table.itertuples()]
        fig, axis = plt.subplots(figsize=(7, 2.6))
        axis.barh(labels, table.step_s)
        axis.set_xlabel("loss + backward per step (s)")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)

    return draw


if __name__ == "__main__":
    main()

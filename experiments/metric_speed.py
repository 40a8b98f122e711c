"""Wall time of the evaluation metrics on CPU at their default sizes; writes results/metric_speed.{csv,md}.

    python experiments/metric_speed.py            # full: the sizes of sdegan/configs/metrics/default.yaml
    python experiments/metric_speed.py --quick    # tiny sizes, seconds (the tests run this)

Measured (median over repeats, each a full call of the public function):
- signature MMD of 1024 vs 1024 paths of length 64 (time + 1 value channel), the normalised kernel
  (the headline ``mmd``) and the raw linear one, both backends, depths 4 and 5 (target <= 2 s);
- real-vs-generated classification accuracy at the default config: GRU (the default) and the neural
  CDE through ``sdegan.solvers.cdeint`` with the default fixed-step solve (target <= 120 s); and, on
  a small task, the fixed-step CDE against the adaptive dopri5 solve with the seminorm adjoint;
- one prediction loss (one of TSTR / TRTR) and one predictive score (next-step MAE) at the default
  config (target <= 120 s each).
The paths are simulated Ornstein-Uhlenbeck samples (the metrics' cost does not depend on the values).
"""

from __future__ import annotations

import dataclasses
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import torch

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from measure import experiment_arguments  # noqa: E402
from results_table import machine_description  # noqa: E402
from sdegan.metrics import (  # noqa: E402
    MetricsConfig,
    classification_accuracy,
    prediction_loss,
    predictive_score,
    signature_mmd,
)

MMD_TARGET_S = 2.0
LEARNED_TARGET_S = 120.0


def ou_paths(num_paths: int, length: int, seed: int, level: float = 0.0) -> torch.Tensor:
    """OU paths dY = 0.3 (level - Y) dt + 0.5 dW observed at t = 0, ..., length - 1, time in channel 0."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.rand(num_paths, generator=generator) * 2 - 1
    values = [y]
    for _ in range(length - 1):
        y = y + 0.3 * (level - y) + 0.5 * torch.randn(num_paths, generator=generator)
        values.append(y)
    times = torch.arange(float(length)).expand(num_paths, length)
    return torch.stack([times, torch.stack(values, dim=1)], dim=-1)


def median_seconds(call: Callable[[], object], repeats: int,
                   warm_up: bool) -> tuple[float, float, float]:
    """Median, min and max wall time over ``repeats`` calls, after one untimed call if ``warm_up``."""
    if warm_up:
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def measure(quick: bool) -> list[dict[str, object]]:
    config = MetricsConfig()
    num_paths, length = (128, 16) if quick else (config.num_samples, 64)
    mmd_repeats, learned_repeats = (2, 1) if quick else (7, 3)
    classification = dataclasses.asdict(config.classification)
    prediction = dataclasses.asdict(config.prediction)
    del prediction["num_train"]
    predictive = dict(prediction)
    del predictive["context_fraction"]
    if quick:
        classification.update(epochs=1, hidden_size=8)
        prediction.update(epochs=1, hidden_size=8)
        predictive.update(epochs=1, hidden_size=8)
    real = ou_paths(num_paths, length, seed=0)
    fake = ou_paths(num_paths, length, seed=1, level=0.2)
    rows = []

    def record(metric: str, variant: str, call: Callable[[], object], *, repeats: int,
               paths: torch.Tensor, epochs: int | None = None) -> None:
        target = MMD_TARGET_S if metric == "signature_mmd" else LEARNED_TARGET_S
        median, fastest, slowest = median_seconds(call, repeats, warm_up=metric == "signature_mmd")
        rows.append(dict(metric=metric, variant=variant, num_paths_each=paths.shape[0],
                         length=paths.shape[1], epochs=epochs, repeats=repeats, median_s=median,
                         min_s=fastest, max_s=slowest, target_s=target,
                         within_target=median <= target))
        print(f"{metric:>15} {variant:<40} median {median:8.3f} s", flush=True)

    for kernel in ("normalised", "linear"):
        for backend in ("signatory", "pysiglib"):
            for depth in (4, 5):
                record("signature_mmd", f"{kernel} kernel, {backend}, depth {depth}",
                       lambda: signature_mmd(real, fake, kernel=kernel, depth=depth, backend=backend),
                       repeats=mmd_repeats, paths=real)
    record("classification", "gru (default)",
           lambda: classification_accuracy(real, fake, seed=0, **classification),
           repeats=learned_repeats, paths=real, epochs=classification["epochs"])
    midpoint = dict(method="midpoint", gradient="direct", dt=1.0)
    record("classification", "cde, midpoint dt=1, direct",
           lambda: classification_accuracy(real, fake, seed=0, **dict(
               classification, model="cde", solve_options=midpoint)),
           repeats=1, paths=real, epochs=classification["epochs"])
    # The adaptive CDE is too slow for the default sizes: compare it with midpoint on a small task.
    small_real, small_fake = real[:64, :16], fake[:64, :16]
    small = dict(classification, model="cde", epochs=1 if quick else 2)
    adaptive = dict(method="dopri5", gradient="adjoint", rtol=1e-3, atol=1e-5, norm="seminorm")
    for name, options in [("midpoint dt=1, direct", midpoint),
                          ("dopri5, adjoint, seminorm", adaptive)]:
        record("classification", f"cde, {name} (small task)",
               lambda: classification_accuracy(small_real, small_fake, seed=0,
                                               **dict(small, solve_options=options)),
               repeats=1, paths=small_real, epochs=small["epochs"])
    record("prediction", "gru seq2seq (default)",
           lambda: prediction_loss(fake, real, seed=0, **prediction),
           repeats=learned_repeats, paths=real, epochs=prediction["epochs"])
    record("predictive_score", "gru next step (default)",
           lambda: predictive_score(fake, real, seed=0, **predictive),
           repeats=learned_repeats, paths=real, epochs=predictive["epochs"])
    return rows


def target_summary(table: pd.DataFrame) -> str:
    """How many rows met their time target (median <= target), naming those that did not."""
    missed = table[~table.within_target.astype(bool)]
    verdict = ("all met" if missed.empty else "not met by " + "; ".join(
        f"{row.metric} ({row.variant}): {row.median_s:.4g} s > {row.target_s:.4g} s" for row in missed.itertuples()))
    return f"Targets met by {len(table) - len(missed)} of {len(table)} rows (median <= target_s): {verdict}."


def write(rows: list[dict[str, object]], output_dir: Path, command: str, notes: Sequence[str] = ()) -> None:
    table = pd.DataFrame(rows).astype({"epochs": "Int64"})
    output_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(output_dir / "metric_speed.csv", index=False, float_format="%.4g")
    shown = table.copy()
    for column in ("median_s", "min_s", "max_s", "target_s"):
        shown[column] = shown[column].map(lambda value: f"{value:.4g}")
    shown["epochs"] = shown["epochs"].map(lambda value: "-" if pd.isna(value) else str(value))
    lines = [
        "# Metric speed (CPU)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine_description()} (the metrics run on the CPU)",
        "",
        "Wall time of one call of each public metric function (median, min and max over `repeats` "
        "timed calls; the MMD rows after one untimed warm-up call). `num_paths_each` real and as many generated paths; "
        "learned metrics use the training schedule of sdegan/configs/metrics/default.yaml (except the "
        "rows marked small task). Targets "
        "(issue 6): signature MMD of 1024 vs 1024 paths of length 64 <= 2 s; classification, "
        "prediction and predictive score <= 2 minutes each.",
        "",
        "| " + " | ".join(shown.columns) + " |",
        "|" + "---|" * len(shown.columns),
    ]
    lines += ["| " + " | ".join(str(value) for value in row) + " |"
              for row in shown.itertuples(index=False)]
    lines += ["", "## Notes", "", *[f"- {note}" for note in (target_summary(table), *notes)]]
    (output_dir / "metric_speed.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = experiment_arguments(__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    command = shlex.join(["python", "experiments/metric_speed.py", *sys.argv[1:]])
    write(measure(args.quick), args.output_dir, command, args.note)
    print(f"written to {args.output_dir / 'metric_speed.csv'} and .md")


if __name__ == "__main__":
    main()

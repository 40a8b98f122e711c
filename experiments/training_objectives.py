"""Three ways to train a neural SDE on the same data, solvers and metrics, at an equal wall-clock budget.

    python experiments/training_objectives.py                        # 3 tasks x 3 objectives x 3 seeds, 10 min each
    python experiments/training_objectives.py --tasks ou --minutes 1 --override metrics.repeats=1   # reduced
    python experiments/training_objectives.py --quick                # seconds per run, to check that it works
    python experiments/training_objectives.py --jobs 2               # two runs at a time (one torch thread each)

Claim (Issa, Horvath, Lemercier, Salvi, NeurIPS 2023, "Non-adversarial training of Neural SDEs with signature
kernel scores"): training the neural-SDE generator by a signature-kernel scoring rule instead of adversarially
"significantly outperforms alternative ways of training Neural SDEs", SDE-GANs included (their abstract; their
tasks were rough-volatility paths, forex forecasts and limit-order-book data, not the data sets here).

Every run is ``sdegan-train dataset=<task> model=<objective> seed=<s>`` with the model config's defaults, the run's
default solver (reversible Heun, reversible gradients, Brownian Interval), ``trainer.max_steps=-1`` and
``trainer.max_time`` set to the budget, so every objective gets the same wall-clock time for training (validation
included) and as many steps as fit in it; then the test metrics (``test_after_fit=true``). The objectives: the
SDE-GAN with the clipped recipe (``model=sde_gan``), the same generator trained by the signature-kernel score
(``model=sde_sigker``, docs/signature_kernel.md), and the latent SDE (``model=latent_sde``).

Runs already in ``<output dir>/training_objectives_runs.csv`` with the same key (task, objective, seed, budget and
overrides) are not trained again, so the table can be completed across sittings (their metrics are read again from
their run folders where those still hold the same run); the summary is rebuilt from all rows whose budget matches
this invocation.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Iterator

import pandas as pd

from measure import experiment_arguments
from results_table import DEFAULT_OUTPUT_DIR, PaperFigure, summarise, write_results
from training_runs import DEFAULT_RUNS_DIR, QUICK_BUDGET, REPOSITORY, compose, read_run, sdegan_train_command

NAME = "training_objectives"
AIR_QUALITY_FILE = "PRSA2017_Data_20130301-20170228.zip"
TASKS = ("ou", "weights", "air_quality")
OBJECTIVES = {"sde_gan": "SDE-GAN (clipped)", "sde_sigker": "signature-kernel score", "latent_sde": "latent SDE"}
METRICS = ("steps", "train_time_s", "wall_time_s", "untrained_mmd", "mmd_summary", "learned", "classification",
           "discriminative_score", "prediction_tstr", "prediction_trtr", "predictive_score", "mmd")


def default_air_quality() -> Path:
    """The real Beijing zip beside the repository (``../shared/data``; from a worktree ``../../shared/data``)."""
    for shared in (REPOSITORY.parent / "shared", REPOSITORY.parent.parent / "shared"):
        if (shared / "data" / AIR_QUALITY_FILE).is_file():
            return shared / "data" / AIR_QUALITY_FILE
    return REPOSITORY / "data" / "raw" / AIR_QUALITY_FILE


def arguments():
    parser = experiment_arguments(__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--objectives", nargs="+", choices=list(OBJECTIVES), default=list(OBJECTIVES))
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3; quick mode 1)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="wall-clock training budget per run (default 10; quick mode 0.1)")
    parser.add_argument("--air-quality", type=Path, default=default_air_quality(), help="the Beijing zip")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where the runs' own folders go")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Hydra override for every run (e.g. metrics.repeats=1)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained at a time (one torch thread each; every run shares the machine alike)")
    return parser


def run_key(task: str, objective: str, seed: int, budget: list[str]) -> str:
    """A short stable key of one run's configuration (data paths excluded: they name the machine)."""
    text = json.dumps([task, objective, seed, sorted(budget)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def budget_key(budget: list[str]) -> str:
    return hashlib.sha256(json.dumps(sorted(budget)).encode()).hexdigest()[:16]


def run_overrides(task: str, objective: str, seed: int, budget: list[str], data: list[str]) -> list[str]:
    """The ``sdegan-train`` overrides of one run."""
    return [f"dataset={task}", f"model={objective}", *data, *budget, f"seed={seed}", "test_after_fit=true",
            "trainer.log_every_n_steps=1", "trainer.enable_progress_bar=false", "logger=csv"]


def reread(row: dict, overrides: list[str], run_dir: Path) -> dict:
    """``row`` with its metrics read again from ``run_dir`` when that folder still holds the finished run of
    ``overrides`` (so columns added to the table later are filled from runs already done); else ``row``."""
    import yaml

    ran = run_dir / ".hydra" / "overrides.yaml"
    if not (ran.is_file() and (run_dir / "summary.json").is_file()):
        return row
    ran_overrides = [item for item in yaml.safe_load(ran.read_text()) if not item.startswith("hydra.run.dir=")]
    data_free = [item for item in overrides if not item.startswith("dataset.path=")]
    if sorted(item for item in ran_overrides if not item.startswith("dataset.path=")) != sorted(data_free):
        return row
    return dict(row, **read_run(run_dir, compose(overrides)))


def train(task: str, objective: str, seed: int, budget: list[str], data: list[str], run_dir: Path) -> dict:
    """One ``sdegan-train`` run; returns its row (steps, times, test metrics)."""
    import shutil
    import subprocess
    import time

    overrides = run_overrides(task, objective, seed, budget, data)
    if run_dir.exists():  # an interrupted earlier attempt: start clean
        shutil.rmtree(run_dir)
    started = time.perf_counter()
    result = subprocess.run([*sdegan_train_command(), *overrides, f"hydra.run.dir={run_dir}"], cwd=REPOSITORY,
                            capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise RuntimeError(f"sdegan-train failed for {task}/{objective} seed {seed}:\n{' '.join(overrides)}\n{tail}")
    return dict(task=task, objective=objective, seed=seed, wall_time_s=wall, **read_run(run_dir, compose(overrides)))


def train_all(pending: list[tuple], budget: list[str], jobs: int) -> Iterator[dict]:
    """Train every ``(key, task, objective, seed, data, run_dir)`` of ``pending``, ``jobs`` at a time; yield each
    finished run's row (with its key and budget) as soon as it is done."""
    from joblib import Parallel, delayed

    def one(key: str, task: str, objective: str, seed: int, data: list[str], run_dir: Path) -> dict:
        print(f"[{task}/{objective}] seed {seed}", file=sys.stderr, flush=True)
        row = train(task, objective, seed, budget, data, run_dir)
        return dict(row, key=key, budget_key=budget_key(budget), budget=" ".join(budget))

    yield from Parallel(n_jobs=jobs, backend="threading", return_as="generator_unordered")(
        delayed(one)(*work) for work in pending)


def main() -> None:
    args = arguments().parse_args()
    seeds = list(range(args.seeds if args.seeds is not None else (1 if args.quick else 3)))
    minutes = args.minutes if args.minutes is not None else (0.1 if args.quick else 10.0)
    if not minutes > 0:
        raise SystemExit("--minutes must be positive")
    if args.jobs < 1:
        raise SystemExit("--jobs must be at least 1")
    budget = [*(QUICK_BUDGET if args.quick else ()), "trainer.max_steps=-1",
              f"+trainer.max_time={{seconds:{round(minutes * 60)}}}", *args.override]
    budget = [item for item in budget if not item.startswith("trainer.max_steps=") or item == "trainer.max_steps=-1"]
    output_dir = args.output_dir
    if args.quick and output_dir == DEFAULT_OUTPUT_DIR:  # quick runs never overwrite the committed results
        output_dir = args.runs_dir / f"{NAME}_quick"
    tasks = list(args.tasks)
    notes = []
    left_out = [task for task in TASKS if task not in tasks]
    if left_out:
        notes.append(f"Not in this table: {', '.join(left_out)} (not requested by --tasks in this invocation).")
    if "air_quality" in tasks and not args.air_quality.is_file():
        tasks.remove("air_quality")
        notes.append(f"Task air_quality skipped: {AIR_QUALITY_FILE} not found (--air-quality).")
    if not tasks:
        raise SystemExit(f"nothing to run: {AIR_QUALITY_FILE} is missing ({args.air_quality})")

    runs_csv = output_dir / f"{NAME}_runs.csv"
    raw = pd.read_csv(runs_csv, dtype={"key": str, "budget_key": str}) if runs_csv.is_file() else pd.DataFrame()
    done = set(raw["key"]) if "key" in raw else set()
    pending = []
    for seed in seeds:  # interleaved by seed, so slow drifts of the shared machine hit every objective alike
        for task in tasks:
            data = [f"dataset.path={args.air_quality}"] if task == "air_quality" else []
            for objective in args.objectives:
                key = run_key(task, objective, seed, budget)
                run_dir = args.runs_dir / NAME / task / objective / f"seed{seed}"
                if key not in done:
                    pending.append((key, task, objective, seed, data, run_dir))
                    continue
                print(f"[{task}/{objective}] seed {seed}: in {runs_csv.name}, not trained again", file=sys.stderr)
                index = raw.index[raw.key == key][-1]
                refreshed = reread(raw.loc[index].to_dict(), run_overrides(task, objective, seed, budget, data),
                                   run_dir)
                for column, value in refreshed.items():
                    raw.loc[index, column] = value
    for row in train_all(pending, budget, args.jobs):
        raw = pd.concat([raw, pd.DataFrame([row])], ignore_index=True)
        output_dir.mkdir(parents=True, exist_ok=True)
        raw.to_csv(runs_csv, index=False)  # after every run: an interrupted sitting keeps what it did

    if len(raw):
        output_dir.mkdir(parents=True, exist_ok=True)
        raw.to_csv(runs_csv, index=False)  # with the rows read again from their run folders
    current = raw[raw.budget_key == budget_key(budget)]
    current = current[current.task.isin(tasks) & current.objective.isin(args.objectives) & current.seed.isin(seeds)]
    current = current.assign(objective=current.objective.map(OBJECTIVES), learned=current.learned.astype(float))
    table = summarise(current, by=["task", "objective"], values=list(METRICS))
    write_results(
        NAME, table, output_dir,
        title="Training objectives for the same neural SDE: SDE-GAN vs signature-kernel score vs latent SDE",
        description=__doc__.split("\n\n", 2)[2].strip(),
        budget=(f"{minutes:g} minute(s) of training per run (trainer.max_time), seeds {seeds}, overrides "
                f"{[b for b in budget if not b.startswith('+trainer.max_time')]}; {args.jobs} run(s) at a time "
                "(not the papers' training lengths: the SDE-GAN paper's OU run is 10,000 steps of batch 1024, "
                "experiments/paper_sized_run.py)"),
        paper=[PaperFigure("signature-kernel score vs SDE-GAN training",
                           "signature-kernel score better (abstract; rough Bergomi, forex, LOB data)",
                           comparison_text(table))],
        notes=[
            "steps: training steps done within the budget; train_time_s: sum of train/step_time; wall_time_s: the "
            "whole sdegan-train process (start-up, data, validation, test metrics).",
            "classification: held-out real-vs-generated accuracy (0.5 ideal); discriminative_score: |classification "
            "- 0.5|; prediction_tstr / prediction_trtr: train-on-synthetic / train-on-real test loss; predictive_score: "
            "test MAE of a next-step predictor trained on generated paths; mmd: the headline test MMD (normalised signature "
            "kernel, bounded in [0, 4], docs/metrics.md). Lower is better for all but classification, whose ideal "
            "is 0.5. untrained_mmd / mmd_summary: the end-of-run MMD before / after training; learned: "
            "mmd_summary <= a third of untrained_mmd.",
            "The signature-kernel objective's kernel (PDE signature kernel, RBF static kernel) differs from the "
            "MMD metric's, but both compare path laws through signatures.",
            *notes, *args.note,
        ],
        plot=plot(current),
    )
    print(f"written to {output_dir / NAME}.csv/.md/.png")


def comparison_text(table: pd.DataFrame) -> str:
    """Per task: the signature-kernel score's test metrics against the SDE-GAN's (means over seeds)."""
    parts = []
    for task, rows in table.groupby("task", sort=False):
        by_objective = rows.set_index("objective")
        ours, gan = OBJECTIVES["sde_sigker"], OBJECTIVES["sde_gan"]
        if ours not in by_objective.index or gan not in by_objective.index:
            continue
        a, b = by_objective.loc[ours], by_objective.loc[gan]
        better = []
        for metric, distance in (("mmd", abs), ("classification", lambda v: abs(v - 0.5)),
                                 ("prediction_tstr", abs), ("predictive_score", abs)):
            x, y = a.get(f"{metric}_mean", math.nan), b.get(f"{metric}_mean", math.nan)
            if math.isnan(x) or math.isnan(y):
                continue
            better.append(f"{metric} {x:.4g} vs {y:.4g} ({'better' if distance(x) < distance(y) else 'worse'})")
        parts.append(f"{task}: " + ", ".join(better))
    return "; ".join(parts) or "-"


def plot(raw: pd.DataFrame):
    def draw(path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        columns = ["steps", "classification", "prediction_tstr", "mmd"]
        tasks = list(dict.fromkeys(raw.task))
        fig, axes = plt.subplots(len(tasks), len(columns), figsize=(4 * len(columns), 3.2 * len(tasks)), squeeze=False)
        for row, task in zip(axes, tasks):
            grouped = raw[raw.task == task].groupby("objective", sort=False)[columns]
            means, stds = grouped.mean(), grouped.std().fillna(0)
            for axis, column in zip(row, columns):
                axis.bar(range(len(means)), means[column], yerr=stds[column], capsize=3)
                axis.set_xticks(range(len(means)), means.index, rotation=20, ha="right", fontsize=7)
                axis.set_title(f"{task}: {column}")
                if column == "mmd":
                    axis.set_yscale("symlog")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)

    return draw


if __name__ == "__main__":
    main()

"""Run ``sdegan-train`` for a comparison's settings and collect each run's metrics into one row.

A setting is an experiment config (``configs/experiment/<name>.yaml``) plus overrides, so a user's sweep

    sdegan-train -m experiment=ou_sde_gan,ou_sde_gan_midpoint seed=0,1,2

and the comparison programs train exactly the same runs. Each run writes ``summary.json`` (test metrics,
because ``test_after_fit=true`` is passed) and ``csv/metrics.csv`` (``train/step_time`` and ``solver/nfe`` every
step, because ``trainer.log_every_n_steps=1`` is passed); :func:`train` reads both.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

REPOSITORY = Path(__file__).resolve().parent.parent
DEFAULT_RUNS_DIR = REPOSITORY / "outputs" / "experiments"
# Test metrics reported per run (docs/architecture.md); missing ones (e.g. a metric left out) become NaN.
TEST_METRICS = ("test/classification", "test/prediction_tstr", "test/prediction_trtr", "test/mmd")


@dataclasses.dataclass(frozen=True)
class Setting:
    """One compared configuration: a label, the experiment config and extra Hydra overrides."""

    label: str
    experiment: str
    overrides: Sequence[str] = ()


def sdegan_train_command() -> list[str]:
    """The ``sdegan-train`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "sdegan-train"
    if script.is_file():
        return [str(script)]
    found = shutil.which("sdegan-train")
    if found is None:
        raise FileNotFoundError("sdegan-train is not installed; run scripts/setup_env.sh (pip install -e .) first")
    return [found]


def train(setting: Setting, seed: int, budget: Sequence[str], run_dir: Path) -> dict:
    """Train one run of ``setting`` with ``seed`` and the ``budget`` overrides; return its metrics as one row.

    ``run_dir`` (the run's Hydra output folder) is deleted first if it exists.

    Raises:
        RuntimeError: the run failed (its output's last lines are in the message).
    """
    overrides = [f"experiment={setting.experiment}", *setting.overrides, *budget, f"seed={seed}",
                 "test_after_fit=true", "trainer.log_every_n_steps=1", "trainer.enable_progress_bar=false",
                 "logger=csv", f"hydra.run.dir={run_dir}"]
    command = [*sdegan_train_command(), *overrides]
    if run_dir.exists():  # a previous run of the same setting and seed: start clean, not resume or append
        shutil.rmtree(run_dir)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise RuntimeError(f"sdegan-train failed for {setting.label} seed {seed}:\n{' '.join(command)}\n{tail}")
    return dict(setting=setting.label, experiment=setting.experiment, seed=seed, wall_time_s=wall,
                **read_run(run_dir))


def read_run(run_dir: Path) -> dict:
    """Training time, function evaluations and test metrics of a finished run directory."""
    summary = json.loads((run_dir / "summary.json").read_text())
    metrics = pd.read_csv(run_dir / "csv" / "metrics.csv")
    steps = metrics.dropna(subset=["train/step_time"])
    row = dict(
        train_time_s=float(steps["train/step_time"].sum()),
        step_time_s=float(steps["train/step_time"].median()),
        nfe_per_step=float(steps["solver/nfe"].median()) if "solver/nfe" in steps else math.nan,
        mmd_summary=float(summary["mmd_trained"]),
    )
    for name in TEST_METRICS:
        row[name.split("/", 1)[1]] = float(summary.get(name, math.nan))
    return row


def run_settings(settings: Sequence[Setting], seeds: Sequence[int], budget: Sequence[str], runs_dir: Path,
                 skip: Optional[dict[str, str]] = None) -> pd.DataFrame:
    """Every setting x seed, interleaved by seed (so slow drifts of the machine hit all settings alike)."""
    skip = skip or {}
    rows = []
    for seed in seeds:
        for setting in settings:
            if setting.label in skip:
                continue
            print(f"[{setting.label}] seed {seed}", file=sys.stderr, flush=True)
            rows.append(train(setting, seed, budget, runs_dir / setting.label / f"seed{seed}"))
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------------------------
# A comparison of pairs of settings (ours vs a baseline) on several tasks, from the command line to the results.

QUICK_BUDGET = ("trainer.max_steps=2", "dataset.num_paths=128", "dataset.batch_size=32", "metrics=quick",
                "summary_samples=64", "trainer.val_check_interval=2", "trainer.checkpoint_every_n_steps=2")
METRIC_COLUMNS = ("train_time_s", "step_time_s", "wall_time_s", "nfe_per_step", "classification", "prediction_tstr",
                  "prediction_trtr", "mmd")


@dataclasses.dataclass(frozen=True)
class Pair:
    """One task of a comparison: ``ours`` against ``baseline``; ``needs`` names a data file the task requires."""

    task: str
    ours: Setting
    baseline: Setting
    needs: Optional[Path] = None


def comparison_arguments(description: str, task_names: Sequence[str]):
    """``--quick``, ``--output-dir``, ``--seeds``, ``--tasks``, ``--runs-dir`` and ``--override KEY=VALUE``."""
    from measure import experiment_arguments

    parser = experiment_arguments(description)
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3; quick mode 1)")
    parser.add_argument("--tasks", nargs="+", choices=list(task_names), help="run only these tasks")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where the runs' own folders go")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Hydra override for every run (a reduced budget, e.g. trainer.max_steps=200)")
    return parser


def speedups(raw: pd.DataFrame, pairs: Sequence[Pair]) -> pd.DataFrame:
    """Per task: baseline / ours for mean training time, median step time and function evaluations per step."""
    rows = []
    for pair in pairs:
        ours = raw[raw.setting == pair.ours.label]
        baseline = raw[raw.setting == pair.baseline.label]
        if ours.empty or baseline.empty:
            continue
        rows.append(dict(
            task=pair.task,
            train_time_speedup=baseline.train_time_s.mean() / ours.train_time_s.mean(),
            step_time_speedup=baseline.step_time_s.mean() / ours.step_time_s.mean(),
            nfe_ratio=baseline.nfe_per_step.mean() / ours.nfe_per_step.mean(),
        ))
    return pd.DataFrame(rows)


def plot_pairs(raw: pd.DataFrame):
    """A figure of training time and the test metrics per setting (mean and std over seeds)."""

    def draw(path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        columns = ["train_time_s", "classification", "prediction_tstr", "mmd"]
        grouped = raw.groupby("setting", sort=False)[columns]
        means, stds = grouped.mean(), grouped.std().fillna(0)
        fig, axes = plt.subplots(1, len(columns), figsize=(4 * len(columns), 3.6))
        for axis, column in zip(axes, columns):
            axis.bar(range(len(means)), means[column], yerr=stds[column], capsize=3)
            axis.set_xticks(range(len(means)), means.index, rotation=60, ha="right", fontsize=7)
            axis.set_title(column)
            if column == "mmd":  # scales differ by orders of magnitude between datasets; may dip below 0
                axis.set_yscale("symlog")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)

    return draw


def _shown_path(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (results files name no machine paths)."""
    try:
        return str(path.resolve().relative_to(REPOSITORY))
    except ValueError:
        return str(path)


def run_comparison(name: str, title: str, description: str, pairs: Sequence[Pair], quick_tasks: Sequence[str],
                   paper_claim: str, paper_figure: str) -> None:
    """Parse the command line, train every pair's settings over the seeds, write ``results/<name>.*``."""
    from results_table import PaperFigure, summarise, write_results

    parser = comparison_arguments(title, [pair.task for pair in pairs])
    args = parser.parse_args()
    tasks = args.tasks or (quick_tasks if args.quick else [pair.task for pair in pairs])
    seeds = list(range(args.seeds if args.seeds is not None else (1 if args.quick else 3)))
    budget = [*(QUICK_BUDGET if args.quick else ()), *args.override]
    chosen = [pair for pair in pairs if pair.task in tasks]
    missing = {pair.task: _shown_path(pair.needs) for pair in chosen
               if pair.needs is not None and not pair.needs.exists()}
    runnable = [pair for pair in chosen if pair.task not in missing]
    if not runnable:
        raise SystemExit(f"nothing to run: the data of {sorted(missing)} is missing ({missing})")
    settings = [setting for pair in runnable for setting in (pair.ours, pair.baseline)]
    raw = run_settings(settings, seeds, budget, args.runs_dir / name)
    task_of = {setting.label: pair.task for pair in runnable for setting in (pair.ours, pair.baseline)}
    raw.insert(0, "task", raw.setting.map(task_of))
    table = summarise(raw, by=["task", "setting", "experiment"], values=list(METRIC_COLUMNS))
    ratio = speedups(raw, runnable)
    notes = [
        "train_time_s: sum of train/step_time over the run (training steps only); wall_time_s: the whole "
        "sdegan-train process (start-up, data, validation, test metrics); nfe_per_step: median solver/nfe "
        "(vector-field evaluations of all networks, forward and backward) per training step.",
        "classification: held-out real-vs-generated accuracy (0.5 ideal); prediction_tstr / prediction_trtr: "
        "train-on-synthetic / train-on-real test loss; mmd: signature MMD (docs/metrics.md). Lower is better.",
    ]
    notes += [f"Task {task} skipped: its data file {path} is missing." for task, path in missing.items()]
    notes += args.note
    sizes = "quick mode" if args.quick else "the experiment configs' sizes"
    budget_text = (f"{sizes} with overrides {budget or 'none'}; "
                   f"seeds {seeds}; runs one after another on this machine")
    if budget:
        budget_text += " (a reduced budget: not the paper's sizes, so metrics are not comparable to the paper's)"
    write_results(
        name,
        table,
        args.output_dir,
        title=title,
        description=description,
        budget=budget_text,
        paper=[PaperFigure(paper_claim, paper_figure,
                           ", ".join(f"{row.task}: {row.train_time_speedup:.3g}x" for row in ratio.itertuples()))],
        notes=notes,
        extra_tables=[("Baseline / ours (means over seeds)", ratio)],
        plot=plot_pairs(raw),
    )


__all__ = ["Setting", "Pair", "TEST_METRICS", "DEFAULT_RUNS_DIR", "QUICK_BUDGET", "sdegan_train_command", "train",
           "read_run", "run_settings", "comparison_arguments", "speedups", "run_comparison"]

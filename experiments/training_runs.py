"""Run ``sdegan-train`` for a comparison's settings and collect each run's metrics into one row.

A setting is an experiment config (``sdegan/configs/experiment/<name>.yaml``) plus overrides, so a user's sweep

    sdegan-train -m experiment=ou_sde_gan,ou_sde_gan_midpoint seed=0,1,2

and the comparison programs train exactly the same runs. Each run writes ``summary.json`` (test metrics,
because ``test_after_fit=true`` is passed) and ``csv/metrics.csv`` (``train/step_time`` and ``solver/nfe`` every
step, because ``trainer.log_every_n_steps=1`` is passed); :func:`train` reads both.

Runs are keyed by their composed config: a run whose folder already holds the results of the same composed
config is read back instead of trained again, so a comparison can be completed across several sittings and
rerun cheaply. ``--jobs 2`` trains two runs at a time (one torch thread each).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence

import pandas as pd
from omegaconf import DictConfig, OmegaConf

# Hydra's compose API keeps global state: one composition at a time across the --jobs threads.
_COMPOSE_LOCK = threading.Lock()

REPOSITORY = Path(__file__).resolve().parent.parent
DEFAULT_RUNS_DIR = REPOSITORY / "outputs" / "experiments"
# The real Beijing air-quality archive, beside the repository (shared/data/README.md); absent in a user's clone.
AIR_QUALITY_ARCHIVE = (REPOSITORY.parent / "shared" / "data" / "PRSA2017_Data_20130301-20170228.zip").resolve()
# The file a finished run leaves next to its results: the composed config it was trained with.
RUN_KEY_FILE = "run_key.yaml"
# A run has learned when its trained generator's MMD is at most this fraction of the untrained generator's.
LEARNED_FRACTION = 1 / 3
# Test metrics reported per run (docs/architecture.md); missing ones (e.g. a metric left out) become NaN.
TEST_METRICS = ("test/classification", "test/discriminative_score", "test/prediction_tstr", "test/prediction_trtr",
                "test/predictive_score", "test/mmd")


# Both sides of the papers' comparisons solve with the Brownian Interval, as the papers did (the experiment
# configs' own default is the faster fixed-grid source, docs/solvers.md).
AS_IN_THE_PAPER = ("brownian=interval",)


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


def run_overrides(setting: Setting, seed: int, budget: Sequence[str]) -> list[str]:
    """The Hydra overrides of one run of ``setting`` (without the output folder)."""
    return [f"experiment={setting.experiment}", *setting.overrides, *budget, f"seed={seed}",
            "test_after_fit=true", "trainer.log_every_n_steps=1", "trainer.enable_progress_bar=false",
            "logger=csv"]


def compose(overrides: Sequence[str]) -> DictConfig:
    """The config ``sdegan-train`` composes from ``overrides`` (Hydra's compose API, no run)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from sdegan.train import CONFIG_DIR

    with _COMPOSE_LOCK, initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return hydra_compose(config_name="train", overrides=list(overrides))


def run_key(overrides: Sequence[str]) -> str:
    """The composed config of a run as YAML: what identifies its results (interpolations left unresolved)."""
    return OmegaConf.to_yaml(compose(overrides))


def generator_updates_per_step(cfg: DictConfig) -> float:
    """Generator updates per training step: 1 / (critic_steps + 1) for the gradient penalty, else 1."""
    model = cfg.model
    if model.get("lipschitz") == "gradient_penalty":
        return 1.0 / (int(model.critic_steps) + 1)
    return 1.0


def equal_update_budget(setting: Setting, generator_updates: int) -> list[str]:
    """Overrides giving ``setting`` exactly ``generator_updates`` generator updates (SWA from half of them)."""
    cfg = compose([f"experiment={setting.experiment}", *setting.overrides])
    steps_per_update = round(1 / generator_updates_per_step(cfg))
    overrides = [f"trainer.max_steps={generator_updates * steps_per_update}"]
    if cfg.model.get("swa_start") is not None:
        overrides.append(f"model.swa_start={generator_updates // 2 * steps_per_update}")
    return overrides


def train(setting: Setting, seed: int, budget: Sequence[str], run_dir: Path) -> dict:
    """One run of ``setting`` with ``seed`` and the ``budget`` overrides, as one row of metrics.

    If ``run_dir`` holds the finished results of the same composed config, they are read back; otherwise the
    folder is cleared and the run trained.

    Raises:
        RuntimeError: the run failed (its output's last lines are in the message).
    """
    overrides = run_overrides(setting, seed, budget)
    key = run_key(overrides)
    key_file = run_dir / RUN_KEY_FILE
    if key_file.is_file() and key_file.read_text() == key and (run_dir / "summary.json").is_file():
        print(f"[{setting.label}] seed {seed}: results exist, read back", file=sys.stderr, flush=True)
        previous = json.loads((run_dir / "row.json").read_text())
        return dict(previous, **read_run(run_dir, compose(overrides)))
    command = [*sdegan_train_command(), *overrides, f"hydra.run.dir={run_dir}"]
    if run_dir.exists():  # another config or an unfinished run: start clean, not resume or append
        shutil.rmtree(run_dir)
    print(f"[{setting.label}] seed {seed}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise RuntimeError(f"sdegan-train failed for {setting.label} seed {seed}:\n{' '.join(command)}\n{tail}")
    row = dict(setting=setting.label, experiment=setting.experiment, seed=seed, run_dir=str(run_dir),
               wall_time_s=wall)
    (run_dir / "row.json").write_text(json.dumps(row))
    key_file.write_text(key)  # last: only a finished run is ever read back
    return dict(row, **read_run(run_dir, compose(overrides)))


def read_run(run_dir: Path, cfg: DictConfig) -> dict:
    """Training time, steps, generator updates, logged forward evaluations and test metrics of a finished run.

    ``cfg`` is the run's composed config (for the generator updates per step).
    """
    summary = json.loads((run_dir / "summary.json").read_text())
    metrics = pd.read_csv(run_dir / "csv" / "metrics.csv")
    steps = metrics.dropna(subset=["train/step_time"])
    num_steps = int(steps["step"].max()) + 1 if "step" in steps and len(steps) else len(steps)
    untrained = float(summary["mmd_untrained"])
    trained = float(summary["mmd_trained"])
    row = dict(
        steps=num_steps,
        generator_updates=int(round(num_steps * generator_updates_per_step(cfg))),
        train_time_s=float(steps["train/step_time"].sum()),
        step_time_s=float(steps["train/step_time"].median()),
        logged_forward_evaluations_per_step=(float(steps["solver/nfe"].median()) if "solver/nfe" in steps
                                             else math.nan),
        untrained_mmd=untrained,
        mmd_summary=trained,
        learned=bool(trained <= LEARNED_FRACTION * untrained),
    )
    for name in TEST_METRICS:
        row[name.split("/", 1)[1]] = float(summary.get(name, math.nan) if summary.get(name) is not None else math.nan)
    return row


def time_to_mmd(run_dir: Path, target: float) -> float:
    """Training seconds (sum of step times) until the run's validation MMD first reached ``target`` (NaN: never)."""
    metrics = pd.read_csv(Path(run_dir) / "csv" / "metrics.csv")
    if "val/mmd" not in metrics:
        return math.nan
    step_times = metrics.dropna(subset=["train/step_time"]).groupby("step")["train/step_time"].sum().cumsum()
    reached = metrics.dropna(subset=["val/mmd"])
    reached = reached[reached["val/mmd"] <= target]
    if reached.empty:
        return math.nan
    step = int(reached["step"].iloc[0])
    return float(step_times[step_times.index <= step].iloc[-1]) if (step_times.index <= step).any() else 0.0


def _pair_rows(raw: pd.DataFrame, pairs: Sequence[Pair]) -> Iterator[tuple[Pair, pd.DataFrame, pd.DataFrame]]:
    """Each pair with its rows of ours and of the baseline (pairs missing either are left out)."""
    for pair in pairs:
        ours = raw[raw.setting == pair.ours.label]
        baseline = raw[raw.setting == pair.baseline.label]
        if not (ours.empty or baseline.empty):
            yield pair, ours, baseline


def metric_directions(raw: pd.DataFrame, pairs: Sequence[Pair]) -> str:
    """Per task, whether ours has the lower mean test MMD, classification and TSTR loss than the baseline."""
    parts = []
    for pair, ours, baseline in _pair_rows(raw, pairs):
        metrics = ("mmd", "classification", "prediction_tstr")
        lower = [metric for metric in metrics if ours[metric].mean() < baseline[metric].mean()]
        parts.append(f"{pair.task}: ours lower on {len(lower)} of {len(metrics)} ({', '.join(lower) or 'none'}); "
                     f"mmd {ours.mmd.mean():.3g} vs {baseline.mmd.mean():.3g}")
    return "; ".join(parts)


def run_settings(settings: Sequence[Setting], seeds: Sequence[int], budget: Sequence[str], runs_dir: Path,
                 budgets: Optional[dict[str, Sequence[str]]] = None, jobs: int = 1) -> pd.DataFrame:
    """Every setting x seed, ordered by seed (so slow drifts of the machine hit all settings alike).

    ``budgets`` adds per-setting overrides (by label, after ``budget``); ``jobs`` runs that many at a time.
    """
    from joblib import Parallel, delayed

    budgets = budgets or {}
    work = [(setting, seed) for seed in seeds for setting in settings]
    rows = Parallel(n_jobs=jobs, backend="threading")(
        delayed(train)(setting, seed, [*budget, *budgets.get(setting.label, ())],
                       runs_dir / setting.label / f"seed{seed}")
        for setting, seed in work
    )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------------------------
# A comparison of pairs of settings (ours vs a baseline) on several tasks, from the command line to the results.

QUICK_BUDGET = ("trainer.max_steps=2", "dataset.num_paths=128", "dataset.batch_size=32", "metrics=quick",
                "summary_samples=64", "trainer.val_check_interval=2", "trainer.checkpoint_every_n_steps=2")
METRIC_COLUMNS = ("steps", "generator_updates", "train_time_s", "step_time_s", "wall_time_s",
                  "logged_forward_evaluations_per_step", "forward_evaluations_per_step", "backward_vjps_per_step",
                  "untrained_mmd", "mmd_summary", "learned", "classification", "discriminative_score",
                  "prediction_tstr", "prediction_trtr", "predictive_score", "mmd")


@dataclasses.dataclass(frozen=True)
class Pair:
    """One task of a comparison: ``ours`` against ``baseline``; ``needs`` names a data file the task requires."""

    task: str
    ours: Setting
    baseline: Setting
    needs: Optional[Path] = None


def comparison_arguments(description: str, task_names: Sequence[str]):
    """``--quick``, ``--output-dir``, ``--seeds``, ``--tasks``, ``--runs-dir``, ``--override KEY=VALUE``,
    ``--generator-updates N`` and ``--jobs N``."""
    from measure import experiment_arguments

    parser = experiment_arguments(description)
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3; quick mode 1)")
    parser.add_argument("--tasks", nargs="+", choices=list(task_names), help="run only these tasks")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where the runs' own folders go")
    parser.add_argument("--override", action="append", default=[], metavar="[SCOPE:]KEY=VALUE",
                        help="extra Hydra override for every run (a reduced budget, e.g. dataset.batch_size=128); "
                             "TASK:KEY=VALUE applies it to that task's runs only, SETTING:KEY=VALUE (e.g. ou_sde_gan/clip:...) to "
                             "that setting's runs only")
    parser.add_argument("--generator-updates", type=int, default=None, metavar="N",
                        help="train every setting for exactly N generator updates (trainer.max_steps per setting: "
                             "N x (critic_steps + 1) for the gradient penalty; SWA from update N/2)")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at a time (one torch thread each)")
    parser.add_argument("--target-mmd", type=float, default=None, metavar="X",
                        help="also report each run's training time until its validation MMD first reached X")
    return parser


def split_task_overrides(overrides: Sequence[str], scope_names: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    """``--override`` values split into those for every run and those scoped to one task or setting
    (``SCOPE:KEY=VALUE``, SCOPE one of ``scope_names``)."""
    common: list[str] = []
    scoped: dict[str, list[str]] = {}
    for override in overrides:
        scope, separator, rest = override.partition(":")
        if separator and "=" not in scope:
            if scope not in scope_names:
                raise SystemExit(f"--override {override}: unknown task or setting {scope!r} "
                                 f"(choose from {', '.join(scope_names)})")
            scoped.setdefault(scope, []).append(rest)
        else:
            common.append(override)
    return common, scoped


def speedups(raw: pd.DataFrame, pairs: Sequence[Pair]) -> pd.DataFrame:
    """Per task: baseline / ours for mean training time, median step time, and forward evaluations and backward
    VJPs per training step."""
    rows = []
    for pair, ours, baseline in _pair_rows(raw, pairs):
        rows.append(dict(
            task=pair.task,
            train_time_speedup=baseline.train_time_s.mean() / ours.train_time_s.mean(),
            step_time_speedup=baseline.step_time_s.mean() / ours.step_time_s.mean(),
            forward_evaluations_ratio=(baseline.forward_evaluations_per_step.mean()
                                       / ours.forward_evaluations_per_step.mean()),
            backward_vjps_ratio=baseline.backward_vjps_per_step.mean() / ours.backward_vjps_per_step.mean(),
        ))
    return pd.DataFrame(rows)


# The sizes of a run that make its budget: a run below its experiment config's value in any of them is reduced.
BUDGET_KEYS = ("trainer.max_steps", "dataset.batch_size", "dataset.num_paths")


def _is_below(ran: Optional[int], full: Optional[int]) -> bool:
    """Whether a run's budget value is below its config's; null means "all" (e.g. every window of a dataset)."""
    if ran is None:
        return False
    return full is None or ran < full


def _budget_value(value: Optional[int]) -> str:
    return "all" if value is None else str(value)


def budget_reductions(settings: Sequence[Setting], budget: Sequence[str],
                      budgets: Optional[dict[str, Sequence[str]]] = None) -> list[str]:
    """Per setting, the :data:`BUDGET_KEYS` its runs' composed config sets below its experiment config's values."""
    reductions = []
    for setting in settings:
        full = compose([f"experiment={setting.experiment}", *setting.overrides])
        ran = compose([f"experiment={setting.experiment}", *setting.overrides, *budget,
                       *(budgets or {}).get(setting.label, ())])
        below = [f"{key} {OmegaConf.select(ran, key)} of {_budget_value(OmegaConf.select(full, key))}"
                 for key in BUDGET_KEYS if _is_below(OmegaConf.select(ran, key), OmegaConf.select(full, key))]
        if below:
            reductions.append(f"{setting.label} {', '.join(below)}")
    return reductions


def evaluation_ratios(ratio: pd.DataFrame) -> str:
    """Per task, the baseline's forward evaluations and backward VJPs per training step over ours."""
    return "; ".join(f"{row.task}: {row.forward_evaluations_ratio:.3g}x forward evaluations, "
                     f"{row.backward_vjps_ratio:.3g}x backward VJPs" for row in ratio.itertuples())


def setting_step_counts(setting: Setting, seed: int, budget: Sequence[str]) -> dict[str, float]:
    """Forward evaluations and backward VJPs of the vector-field networks per training step of ``setting``.

    Counted in this process over the first training steps of the run's composed config
    (:func:`operation_counts.training_step_counts`): one step, or one cycle of ``critic_steps + 1`` steps for
    the gradient penalty (the mean over it). The counts do not depend on the seed.
    """
    from operation_counts import training_step_counts

    cfg = compose(run_overrides(setting, seed, budget))
    counts = training_step_counts(cfg, steps=round(1 / generator_updates_per_step(cfg)))
    return dict(forward_evaluations_per_step=counts.forward_evaluations, backward_vjps_per_step=counts.backward_vjps)


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
                   paper_claim: str, paper_figure: str, paper_budget: str, paper_metrics: str,
                   paper_evaluations: Optional[str] = None) -> None:
    """Parse the command line, train every pair's settings over the seeds, write ``results/<name>.*``.

    ``paper_budget`` is the paper's training budget as text, stated next to ours when ours is reduced;
    ``paper_metrics`` the paper's claim about the test metrics, shown next to the measured directions;
    ``paper_evaluations`` the paper's figure for the baseline's function evaluations over ours, if it gives one,
    shown next to the counted ratios.
    """
    from results_table import PaperFigure, summarise, write_results

    parser = comparison_arguments(title, [pair.task for pair in pairs])
    args = parser.parse_args()
    tasks = args.tasks or (quick_tasks if args.quick else [pair.task for pair in pairs])
    seeds = list(range(args.seeds if args.seeds is not None else (1 if args.quick else 3)))
    scope_names = [name for pair in pairs for name in (pair.task, pair.ours.label, pair.baseline.label)]
    common_overrides, task_overrides = split_task_overrides(args.override, scope_names)
    budget = [*(QUICK_BUDGET if args.quick else ()), *common_overrides]
    chosen = [pair for pair in pairs if pair.task in tasks]
    missing = {pair.task: _shown_path(pair.needs) for pair in chosen
               if pair.needs is not None and not pair.needs.exists()}
    runnable = [pair for pair in chosen if pair.task not in missing]
    if not runnable:
        raise SystemExit(f"nothing to run: the data of {sorted(missing)} is missing ({missing})")
    settings = [setting for pair in runnable for setting in (pair.ours, pair.baseline)]
    budgets = {setting.label: [*task_overrides.get(pair.task, ()), *task_overrides.get(setting.label, ()),
                               *(equal_update_budget(setting, args.generator_updates)
                                 if args.generator_updates is not None else ())]
               for pair in runnable for setting in (pair.ours, pair.baseline)}
    raw = run_settings(settings, seeds, budget, args.runs_dir / name, budgets=budgets, jobs=args.jobs)
    counts = {setting.label: setting_step_counts(setting, seeds[0], [*budget, *budgets.get(setting.label, ())])
              for setting in settings}
    for column in ("forward_evaluations_per_step", "backward_vjps_per_step"):
        raw[column] = [counts[label][column] for label in raw.setting]
    task_of = {setting.label: pair.task for pair in runnable for setting in (pair.ours, pair.baseline)}
    raw.insert(0, "task", raw.setting.map(task_of))
    raw["learned"] = raw.learned.astype(float)
    table = summarise(raw, by=["task", "setting", "experiment"], values=list(METRIC_COLUMNS))
    ratio = speedups(raw, runnable)
    if args.target_mmd is not None:
        raw["time_to_target_mmd_s"] = [time_to_mmd(Path(run), args.target_mmd) for run in raw.run_dir]
        table = summarise(raw, by=["task", "setting", "experiment"], values=[*METRIC_COLUMNS, "time_to_target_mmd_s"])
    notes = [
        "steps: training steps run; generator_updates: of those, the steps that updated the generator (all of "
        "them for clipping and latent SDEs, one in critic_steps + 1 for the gradient penalty).",
        "train_time_s: sum of train/step_time over the run (training steps only); wall_time_s: the whole "
        "sdegan-train process (start-up, data, validation, test metrics).",
        "logged_forward_evaluations_per_step: median over the run's training steps of its logged solver/nfe, the "
        "forward calls of the vector-field networks (including the re-evaluations of a reversible or adjoint "
        "backward pass); backward work is not in it.",
        "forward_evaluations_per_step / backward_vjps_per_step: counted by this program (experiments/"
        "operation_counts.py) over one training step of each setting's composed config (for the gradient "
        "penalty, the mean over one cycle of critic_steps critic steps and a generator step): the vector-field "
        "networks' forward calls, and the matrix products their backward passes ran, first and second order "
        "(the penalty's double backward), in full vector-Jacobian products of one evaluation (input and "
        "parameters); a backward to the input only counts half. Other networks (initial, readout, encoder) are "
        "not counted.",
        f"untrained_mmd / mmd_summary: the run's end-of-run MMD of the generator before / after training against "
        f"the same held-out real paths; learned = mmd_summary <= {LEARNED_FRACTION:.3g} x untrained_mmd "
        "(the mean over seeds is the fraction of runs that learned).",
        "classification: held-out real-vs-generated accuracy (0.5 ideal); discriminative_score: |classification - "
        "0.5|; prediction_tstr / prediction_trtr: train-on-synthetic / train-on-real test loss; predictive_score: "
        "test MAE of a next-step predictor trained on generated paths; mmd: the headline test MMD (docs/metrics.md). "
        "Lower is better (classification down to its ideal 0.5).",
    ]
    not_learned = raw[~raw.learned.astype(bool)]
    if len(not_learned):
        notes.append(f"{len(not_learned)} of {len(raw)} runs did not learn at this budget: "
                     + ", ".join(f"{row.setting} seed {row.seed}" for row in not_learned.itertuples()) + ".")
    else:
        notes.append(f"All {len(raw)} runs learned at this budget.")
    notes += [f"Task {task} skipped: its data file {path} is missing." for task, path in missing.items()]
    notes += args.note
    sizes = "quick mode" if args.quick else "the experiment configs' sizes"
    updates = f"{args.generator_updates} generator updates per run; " if args.generator_updates is not None else ""
    scoped_text = "".join(f"; {scope} also {task_overrides[scope]}" for pair in runnable
                          for scope in (pair.task, pair.ours.label, pair.baseline.label) if task_overrides.get(scope))
    budget_text = (f"{sizes} with {updates}overrides {budget or 'none'}{scoped_text}; seeds {seeds}; "
                   f"{args.jobs} run(s) at a time on this machine")
    reductions = budget_reductions(settings, budget, budgets)
    budget_text += (f" (a reduced budget: {'; '.join(reductions)}; the paper's: {paper_budget})" if reductions
                    else f" (the experiment configs' full budget; the paper's: {paper_budget})")
    write_results(
        name,
        table,
        args.output_dir,
        title=title,
        description=description,
        budget=budget_text,
        paper=[PaperFigure(paper_claim, paper_figure,
                           ", ".join(f"{row.task}: {row.train_time_speedup:.3g}x" for row in ratio.itertuples())),
               PaperFigure("test metrics of ours vs the baseline (lower is better)", paper_metrics,
                           metric_directions(raw, runnable)),
               *([PaperFigure("function evaluations of the baseline / ours per training step", paper_evaluations,
                              evaluation_ratios(ratio))] if paper_evaluations is not None else [])],
        notes=notes,
        extra_tables=[("Baseline / ours (means over seeds)", ratio)],
        plot=plot_pairs(raw),
    )


__all__ = ["Setting", "Pair", "TEST_METRICS", "DEFAULT_RUNS_DIR", "AIR_QUALITY_ARCHIVE", "QUICK_BUDGET",
           "sdegan_train_command", "run_overrides", "split_task_overrides", "compose", "run_key", "generator_updates_per_step",
           "equal_update_budget", "train", "read_run", "run_settings", "comparison_arguments", "speedups",
           "setting_step_counts", "evaluation_ratios", "budget_reductions",
           "time_to_mmd", "metric_directions", "run_comparison"]

"""The paper-sized OU SDE-GAN: one full ``sdegan-train experiment=ou_sde_gan`` run, its metrics and samples.

    python experiments/paper_sized_run.py            # 10,000 steps of batch 1024 (20 to 38 min, one core)
    python experiments/paper_sized_run.py --quick    # a tiny run, to check that it works

The run is the paper's recipe as ``sdegan/configs/experiment/ou_sde_gan.yaml`` sets it (Kidger, Foster, Li, Lyons
2021 and torchsde's examples/sde_gan.py: reversible Heun, reversible gradients, weight clipping with LipSwish,
10,000 steps of batch 1024, stochastic weight averaging from step 5000), with the config's fixed-grid Brownian
source (``brownian=grid``: exact increments on the solve's steps; the paper used the Brownian Interval). Its
finished results are read back when the composed config is unchanged (experiments/training_runs.py), so rerunning
this program is cheap.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from training_runs import (DEFAULT_RUNS_DIR, LEARNED_FRACTION, QUICK_BUDGET, Setting, comparison_arguments,
                           train)

NAME = "paper_sized_run"
SETTING = Setting("ou_sde_gan", "ou_sde_gan")
COLUMNS = ("steps", "generator_updates", "train_time_s", "step_time_s", "wall_time_s",
           "logged_forward_evaluations_per_step", "untrained_mmd", "mmd_summary", "learned", "classification",
           "prediction_tstr", "prediction_trtr", "mmd")


def copy_samples(run_dir: Path):
    """The figure writer: the run's own end-of-training sample figure (``samples.png``)."""

    def draw(path: Path) -> None:
        shutil.copyfile(run_dir / "samples.png", path)

    return draw


def main() -> None:
    from results_table import write_results

    parser = comparison_arguments(__doc__.splitlines()[0], [SETTING.label])
    args = parser.parse_args()
    budget = [*(QUICK_BUDGET if args.quick else ()), *args.override]
    run_dir = (args.runs_dir if args.runs_dir != DEFAULT_RUNS_DIR else DEFAULT_RUNS_DIR / NAME) / SETTING.label
    row = train(SETTING, 0, budget, run_dir / "seed0")
    table = pd.DataFrame([{"experiment": SETTING.experiment, "seed": 0, **{key: row[key] for key in COLUMNS}, "n": 1}])
    learned = "learned" if row["learned"] else "did not learn"
    notes = [
        f"The run {learned}: its trained generator's MMD is {row['mmd_summary']:.3g} against "
        f"{row['untrained_mmd']:.3g} untrained ({row['mmd_summary'] / row['untrained_mmd']:.3g} of it; "
        f"learned means at most {LEARNED_FRACTION:.3g}).",
        f"Training took {row['train_time_s'] / 60:.1f} min of step time ({row['step_time_s']:.3f} s per step, "
        f"median) and {row['wall_time_s'] / 60:.1f} min in all, one torch thread.",
        "classification: held-out real-vs-generated accuracy (0.5 ideal); prediction_tstr / prediction_trtr: "
        "train-on-synthetic / train-on-real test loss; mmd: the headline test MMD (docs/metrics.md).",
        *args.note,
    ]
    sizes = "quick mode" if args.quick else "the paper's sizes (experiment=ou_sde_gan)"
    write_results(NAME, table, args.output_dir, title="The paper-sized OU SDE-GAN",
                  description=__doc__.split("\n\n", 2)[2].strip(),
                  budget=f"{sizes} with overrides {budget or 'none'}; seed 0",
                  notes=notes, plot=copy_samples(run_dir / "seed0"))


if __name__ == "__main__":
    main()

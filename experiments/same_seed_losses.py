"""Per-step training losses of fixed-seed runs, to check that a speed change leaves the numbers alone.

    python experiments/same_seed_losses.py                                   # writes results/same_seed_losses.json
    python experiments/same_seed_losses.py --output results/same_seed_losses_baseline.json   # the reference
    python experiments/same_seed_losses.py --compare results/same_seed_losses_baseline.json  # after a change

Trains, with ``sdegan-train`` and a fixed seed, a few steps of the paper's SDE-GAN settings
(``experiment=ou_sde_gan`` with a smaller batch, stochastic weight averaging from a few steps in, one
validation) and of the default run, and writes every step's ``train/loss``, the validation losses and the
end-of-run signature MMDs (trained and untrained generator) to a JSON file. ``--compare`` then reports the
largest difference of the losses to a reference file and exits non-zero when a loss differs by more than
``--rtol`` (relative) and ``--atol`` (absolute): "the same seed gives the same losses to float round-off". The
MMDs are printed next to the reference's but not compared: the metric's definition changed after the committed
baseline was measured, so they differ by design, not through the training.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd

from training_runs import DEFAULT_RUNS_DIR, REPOSITORY, Setting, sdegan_train_command

DEFAULT_OUTPUT = REPOSITORY / "results" / "same_seed_losses.json"
SETTINGS = (
    # The Brownian Interval, as when the committed baseline was measured (the experiment now defaults to the grid).
    Setting("ou_sde_gan", "ou_sde_gan", ("brownian=interval", "dataset.batch_size=64", "model.swa_start=10",
                                          "trainer.val_check_interval=10")),
    Setting("default", "", ("trainer.val_check_interval=10",)),
)
COMMON = ("summary_samples=256", "logger=csv", "trainer.log_every_n_steps=1", "trainer.enable_progress_bar=false",
          "trainer.checkpoint_every_n_steps=1000")


def run(setting: Setting, seed: int, steps: int, run_dir: Path) -> dict:
    """Train ``setting`` for ``steps`` steps with ``seed``; its per-step losses and summary MMDs."""
    experiment = [f"experiment={setting.experiment}"] if setting.experiment else []  # "": the default run
    overrides = [*experiment, *setting.overrides, *COMMON, f"trainer.max_steps={steps}",
                 f"seed={seed}", f"hydra.run.dir={run_dir}"]
    command = [*sdegan_train_command(), *overrides]
    if run_dir.exists():
        subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    result = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise RuntimeError(f"sdegan-train failed for {setting.label}:\n{' '.join(command)}\n{tail}")
    metrics = pd.read_csv(run_dir / "csv" / "metrics.csv")
    summary = json.loads((run_dir / "summary.json").read_text())
    train = metrics.dropna(subset=["train/loss"])
    val = metrics.dropna(subset=["val/loss"]) if "val/loss" in metrics else metrics.iloc[:0]
    return dict(
        command="sdegan-train " + " ".join(overrides[:-1]),
        train_loss=[float(v) for v in train["train/loss"]],
        train_loss_steps=[int(v) for v in train["step"]],
        val_loss=[float(v) for v in val["val/loss"]],
        mmd_trained=float(summary["mmd_trained"]),
        mmd_untrained=float(summary["mmd_untrained"]),
    )


def git_commit() -> str:
    """The checked-out commit (with ``-dirty`` when the tree has uncommitted changes)."""
    described = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], cwd=REPOSITORY,
                               capture_output=True, text=True)
    return described.stdout.strip() or "unknown"


def values(record: dict) -> dict[str, list[float]]:
    """Every compared number of one setting's record, by name: its losses."""
    return {"train_loss": record["train_loss"], "val_loss": record["val_loss"]}


def compare(measured: dict, reference: dict, rtol: float, atol: float) -> list[str]:
    """One line per setting and quantity with the largest difference; lines starting ``FAIL`` exceed the tolerance."""
    lines = []
    for label, ref_record in reference["settings"].items():
        record = measured["settings"].get(label)
        if record is None:
            lines.append(f"FAIL {label}: not measured")
            continue
        for name, ref_values in values(ref_record).items():
            new_values = values(record)[name]
            if len(new_values) != len(ref_values):
                lines.append(f"FAIL {label} {name}: {len(new_values)} values, reference has {len(ref_values)}")
                continue
            worst_abs = max((abs(a - b) for a, b in zip(new_values, ref_values)), default=0.0)
            worst_rel = max((abs(a - b) / max(abs(b), 1e-30) for a, b in zip(new_values, ref_values)), default=0.0)
            within = all(math.isclose(a, b, rel_tol=rtol, abs_tol=atol) for a, b in zip(new_values, ref_values))
            status = "ok  " if within else "FAIL"
            lines.append(f"{status} {label} {name}: max |diff| {worst_abs:.3g}, max relative {worst_rel:.3g}"
                         f" over {len(ref_values)} values")
        lines.append(f"info {label} mmd trained/untrained (not compared): {record['mmd_trained']:.6g} / "
                     f"{record['mmd_untrained']:.6g}, reference {ref_record['mmd_trained']:.6g} / "
                     f"{ref_record['mmd_untrained']:.6g}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="training steps per run (default 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file to write")
    parser.add_argument("--compare", type=Path, default=None, help="a reference JSON file to compare against")
    parser.add_argument("--rtol", type=float, default=1e-5, help="relative tolerance of --compare")
    parser.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance of --compare")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR / "same_seed_losses")
    args = parser.parse_args()

    measured = dict(
        program="python experiments/same_seed_losses.py " + " ".join(sys.argv[1:]),
        commit=git_commit(), seed=args.seed, steps=args.steps,
        settings={s.label: run(s, args.seed, args.steps, args.runs_dir / s.label) for s in SETTINGS},
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(measured, indent=2) + "\n")
    print(f"wrote {args.output}")
    if args.compare is not None:
        reference = json.loads(args.compare.read_text())
        if (reference["seed"], reference["steps"]) != (args.seed, args.steps):
            raise SystemExit(f"{args.compare} was measured with seed {reference['seed']} and {reference['steps']} "
                             f"steps; run with --seed {reference['seed']} --steps {reference['steps']}")
        lines = compare(measured, reference, args.rtol, args.atol)
        print(f"against {args.compare} (commit {reference['commit']}):")
        print("\n".join(lines))
        if any(line.startswith("FAIL") for line in lines):
            raise SystemExit(1)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Example sweep: reversible Heun vs midpoint over three seeds, one run per combination.
#
#   scripts/sweep_example.sh                 # Hydra's basic launcher: the six runs one after another
#   scripts/sweep_example.sh joblib          # hydra-joblib-launcher: local parallel runs (SDEGAN_JOBS, default 2)
#   scripts/sweep_example.sh slurm hydra.launcher.partition=YOUR_PARTITION   # submitit on a Slurm cluster
#
# Further arguments are Hydra overrides for every run, e.g. a tiny budget:
#   scripts/sweep_example.sh joblib trainer.max_steps=2 dataset.num_paths=128
# Runs land in multirun/<experiment_name>/<date>/<num>_<overrides>/ (sdegan/configs/hydra/default.yaml); with the
# wandb logger they share the wandb group <experiment_name> and carry dataset/model/solver/gradient/brownian
# tags. To sweep the papers' paired settings instead, name experiment configs:
#   sdegan-train -m experiment=ou_sde_gan,ou_sde_gan_midpoint seed=0,1,2
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
train="$repo_root/.venv/bin/sdegan-train"
if [ ! -x "$train" ]; then
    train=$(command -v sdegan-train) || { echo "sdegan-train not found: run scripts/setup_env.sh first" >&2; exit 1; }
fi

launcher=${1:-basic}
[ "$#" -gt 0 ] && shift
case "$launcher" in
    basic) launcher_args=() ;;
    joblib) launcher_args=(hydra/launcher=joblib "hydra.launcher.n_jobs=${SDEGAN_JOBS:-2}") ;;
    slurm) launcher_args=(hydra/launcher=slurm) ;;
    *) echo "unknown launcher '$launcher'; valid: basic, joblib, slurm" >&2; exit 2 ;;
esac

export WANDB_MODE=${WANDB_MODE:-offline}
exec "$train" -m solver=midpoint,reversible_heun seed=0,1,2 "${launcher_args[@]}" "$@"

#!/usr/bin/env bash
# Reproduce every comparison of docs/experiments.md at full size (the papers' sizes: hours on a CPU; use a GPU
# machine for the training comparisons), writing results/<name>.csv, .md and .png. Takes no arguments; run a
# single program with --quick for a smoke test (docs/experiments.md).
#
# The training comparisons' own runs go to outputs/experiments/<name>/ (checkpoints, CSV logs).
set -euo pipefail
if [ "$#" -gt 0 ]; then
    echo "usage: scripts/reproduce_all.sh   (no arguments; see docs/experiments.md for single programs)" >&2
    exit 2
fi
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
python="$repo_root/.venv/bin/python"
[ -x "$python" ] || python=$(command -v python3)
export WANDB_MODE=${WANDB_MODE:-offline}

# The paper comparisons (docs/experiments.md), then the solver, metric and speed benchmarks. The training
# comparisons skip runs whose results already exist for the same composed config, so an interrupted
# reproduction resumes where it stopped; two of their runs train at a time.
jobs=${SDEGAN_JOBS:-2}
for program in brownian_interval_vs_tree reversible_rk_gradients seminorm_vs_norm \
               reversible_heun_vs_midpoint clipping_vs_gradient_penalty training_objectives \
               solver_speed training_speed reversible_stability metric_speed headline_mmd signature_kernel_cost; do
    if [ ! -f "experiments/$program.py" ]; then
        echo "== experiments/$program.py not found, skipped" >&2
        continue
    fi
    case "$program" in
        reversible_heun_vs_midpoint|clipping_vs_gradient_penalty) args=(--jobs "$jobs") ;;
        headline_mmd) args=(--air-quality-path "$repo_root/../shared/data/PRSA2017_Data_20130301-20170228.zip") ;;
        *) args=() ;;
    esac
    echo "== python experiments/$program.py ${args[*]}" >&2
    "$python" "experiments/$program.py" "${args[@]}"
done

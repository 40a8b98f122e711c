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

# The paper comparisons (docs/experiments.md), then the solver and metric benchmarks of the other issues.
for program in brownian_interval_vs_tree reversible_rk_gradients seminorm_vs_norm \
               reversible_heun_vs_midpoint clipping_vs_gradient_penalty \
               solver_speed reversible_stability metric_speed; do
    if [ -f "experiments/$program.py" ]; then
        echo "== python experiments/$program.py" >&2
        "$python" "experiments/$program.py"
    else
        echo "== experiments/$program.py not found, skipped" >&2
    fi
done

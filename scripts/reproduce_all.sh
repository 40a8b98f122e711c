#!/usr/bin/env bash
# Reproduce every comparison of docs/experiments.md, writing results/<name>.csv, .md and .png. The training
# comparisons run at the reduced budgets below, chosen so that their runs learn (the learned column) on one 2-core
# CPU; each .md states the budget it ran at next to the paper's. The paper-sized OU SDE-GAN
# (experiments/paper_sized_run.py, 10,000 steps of batch 1024) is the one full-size run. Takes no arguments; run
# a single program with --quick for a smoke test (docs/experiments.md).
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
# reproduction resumes where it stopped.
jobs=${SDEGAN_JOBS:-2}
times_file="$repo_root/results/reproduce_all_times.tsv"  # committed: the record of each sitting
all_started=$SECONDS
archive=../shared/data/PRSA2017_Data_20130301-20170228.zip  # relative to the checkout (the .md commands)
reversible_heun_budget=(
    --override dataset.batch_size=128 --override trainer.val_check_interval=250
    --override trainer.checkpoint_every_n_steps=250
    --override ou_sde_gan:trainer.max_steps=500 --override ou_sde_gan:model.generator_lr=2e-3
    --override ou_sde_gan:model.discriminator_lr=1e-2 --override ou_sde_gan:model.swa_start=250
    --override weights_sde_gan:trainer.max_steps=2000 --override weights_sde_gan:model.swa_start=1000
    --override ou_latent_sde:trainer.max_steps=1000 --override ou_latent_sde:model.kl_anneal_steps=200
    --override air_quality_latent_sde:trainer.max_steps=2000 --override air_quality_latent_sde:model.kl_anneal_steps=400
    --override air_quality_latent_sde:dataset.batch_size=256
)
# Each recipe at its model config's learning rates: the ou_sde_gan experiment's paper rates (2e-4, 1e-3) are set
# for 10,000 generator updates.
clipping_budget=(
    --generator-updates 500 --target-mmd 0.3 --override dataset.batch_size=128
    --override trainer.val_check_interval=50 --override trainer.checkpoint_every_n_steps=250
    --override ou_sde_gan/clip:model.generator_lr=2e-3 --override ou_sde_gan/clip:model.discriminator_lr=1e-2
    --note "Each recipe trains at its model config's learning rates (sde_gan 2e-3 / 1e-2, sde_gan_gp 1e-3 / 1e-3); the ou_sde_gan experiment's paper rates (2e-4 / 1e-3) are set for 10,000 generator updates, not 500."
)
# run_program NAME ARGS...: experiments/NAME.py with ARGS, its wall time appended to $times_file (runs read back
# make a rerun cheaper than the first).
run_program() {
    local program=$1 started=$SECONDS
    shift
    echo "== python experiments/$program.py $*" >&2
    "$python" "experiments/$program.py" "$@"
    printf '%s\t%s\t%d\n' "$(date -u +%FT%TZ)" "$program" $((SECONDS - started)) >> "$times_file"
}

# The training comparisons first, two runs at a time (one torch thread each); then the paper-sized run (one
# process, one thread) beside the single-process benchmarks, so both cores work; training_speed last and alone,
# since its Lightning step time is an absolute figure.
run_program reversible_heun_vs_midpoint --seeds 3 --jobs "$jobs" "${reversible_heun_budget[@]}"
run_program clipping_vs_gradient_penalty --seeds 3 --jobs "$jobs" "${clipping_budget[@]}"
run_program training_objectives --seeds 3 --minutes 2 --jobs "$jobs" --air-quality "$archive"
run_program paper_sized_run &
paper_sized_run=$!
for program in brownian_interval_vs_tree reversible_rk_gradients seminorm_vs_norm solver_speed reversible_stability \
               metric_speed signature_kernel_cost sigker_conditional_cost; do
    run_program "$program"
done
run_program headline_mmd --air-quality-path "$archive"
wait "$paper_sized_run"
run_program training_speed
printf '%s\t%s\t%d\n' "$(date -u +%FT%TZ)" "all" $((SECONDS - all_started)) >> "$times_file"
echo "wall times per program (seconds) appended to $times_file" >&2

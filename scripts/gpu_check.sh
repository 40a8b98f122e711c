#!/usr/bin/env bash
# Check a CUDA install of sdegan: the GPU tests (pytest marker `cuda`), then the training-speed program on cuda,
# which writes results/training_speed_cuda.csv/.md/.png beside the CPU table (results/training_speed.*).
#
#   bash scripts/gpu_check.sh            # the project's .venv (scripts/setup_env.sh), else python3 on PATH
#   PYTHON=/path/to/python bash scripts/gpu_check.sh
#   bash scripts/gpu_check.sh --quick    # the speed program at tiny sizes, into outputs/gpu_check/ (not results/)
#
# Stops with a one-line message when torch sees no CUDA device. Commit the GPU table when it ran at full size.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
python="${PYTHON:-$repo_root/.venv/bin/python}"
[ -x "$python" ] || python=$(command -v python3)
export WANDB_MODE=${WANDB_MODE:-offline} WANDB_SILENT=true PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}"

speed_args=()
if [ "${1:-}" = "--quick" ]; then
    speed_args=(--quick --output-dir outputs/gpu_check)
elif [ "$#" -gt 0 ]; then
    echo "usage: scripts/gpu_check.sh [--quick]" >&2
    exit 2
fi

if ! "$python" -c "import torch" 2>/dev/null; then
    echo "gpu_check: $python cannot import torch; run scripts/setup_env.sh or set PYTHON." >&2
    exit 1
fi
if ! "$python" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: torch $("$python" -c 'import torch; print(torch.__version__)') sees no CUDA device; install a CUDA build of torch on a GPU machine." >&2
    exit 1
fi
"$python" -c "import torch; print('gpu_check: torch', torch.__version__, 'on', torch.cuda.get_device_name(0))"

echo "== GPU tests: pytest -m cuda" >&2
"$python" -m pytest -q -m cuda tests/gpu
echo "== python experiments/training_speed.py --device cuda ${speed_args[*]}" >&2
"$python" experiments/training_speed.py --device cuda "${speed_args[@]}"

#!/usr/bin/env bash
# Install (once) and run the default test suite (tests marked `slow` are excluded; run them with
# `scripts/test.sh -m slow`). Extra arguments go to pytest.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo_root/scripts/setup_env.sh"
cd "$repo_root"
export WANDB_MODE=offline WANDB_SILENT=true
if [ "$#" -eq 0 ]; then
    set -- -m "not slow"
fi
exec "$repo_root/.venv/bin/python" -m pytest -q "$@"

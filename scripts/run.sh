#!/usr/bin/env bash
# Install (once) and run the default job: `sdegan-train` with any Hydra overrides given as arguments.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo_root/scripts/setup_env.sh"
cd "$repo_root"
exec "$repo_root/.venv/bin/sdegan-train" "$@"

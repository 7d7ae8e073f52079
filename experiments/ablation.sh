#!/usr/bin/env bash
# The ablation of experiments/notes/why_the_videos_drift.md ("Why the videos drift"): the CPU
# demo's recipe with one change per run, each 2500 steps with the EMA
# generator's shape-colour ACD every 500 steps (metrics.jsonl, eval/acd), then
# experiments/quality.py on every run's last checkpoint.
#
#   bash experiments/ablation.sh [NAME ...]     # default: every row below
#   ROOT=DIR bash experiments/ablation.sh       # runs go to DIR/NAME (workdirs/ablation)
#
# About 10 min per run alone on 2 CPU cores (15 min at 16 frames); runs are
# sequential and resume from their checkpoints when the script is run again.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${ROOT:-workdirs/ablation}"
bash tpu_setup/install.sh
# The demo recipe as it was when this ablation was run (configs/demo.py has
# since moved to 4 categories, no discriminator BatchNorm, an EMA generator and
# content modulation).
source experiments/demo_scale.sh  # DEMO_BEFORE_MODULATION
DEMO_BEFORE="n_categories=6 discriminator_norm=batch ema_decay=0 $DEMO_BEFORE_MODULATION"
eval_acd="eval_every=500 eval_metrics=acd eval_num=256 eval_length=16"
declare -A CHANGE=(
  [ema]="ema_decay=0.999"
  [k4]="ema_decay=0.999 n_categories=4"
  [k4_r1]="ema_decay=0.999 n_categories=4 r1_gamma=1"
  [k4_lr2e-4]="ema_decay=0.999 n_categories=4 learning_rate=2e-4"
  [k4_t16]="ema_decay=0.999 n_categories=4 video_length=16 every_nth=2"
  [k4_noise0.05]="ema_decay=0.999 n_categories=4 noise_sigma=0.05"
  [k4_no_d_norm]="ema_decay=0.999 n_categories=4 discriminator_norm=none"
  [k4_no_d_norm_noise0]="ema_decay=0.999 n_categories=4 discriminator_norm=none noise_sigma=0"
  [k4_no_d_norm_noise0.1]="ema_decay=0.999 n_categories=4 discriminator_norm=none noise_sigma=0.1"
)
ORDER=(ema k4 k4_r1 k4_lr2e-4 k4_t16 k4_noise0.05 k4_no_d_norm k4_no_d_norm_noise0
       k4_no_d_norm_noise0.1)
names=("${@:-${ORDER[@]}}")
for name in "${names[@]}"; do
  [ -n "${CHANGE[$name]+x}" ] || { echo "unknown row $name (rows: ${ORDER[*]})" >&2; exit 2; }
  # shellcheck disable=SC2086
  .venv/bin/mocogan-jax train --config demo --workdir "$ROOT/$name" $DEMO_BEFORE ${CHANGE[$name]} \
    $eval_acd
done
for name in "${names[@]}"; do
  echo "$name: $(grep -h eval/acd "$ROOT/$name/metrics.jsonl" | sed 's/.*"eval\/acd": //; s/}//' | tr '\n' ' ')"
done
.venv/bin/python experiments/quality.py "${names[@]/#/$ROOT/}"

#!/usr/bin/env bash
# Which change lowers the `long16` model's ACD? Each row continues the first
# stage of experiments/shape_motion_model.sh (its networks at step 10,000,
# exported as RUN/stage1.msgpack) for 2500 more steps with one change, then
# experiments/quality.py and experiments/acd_parts.py on the result: the rows
# of experiments/RESULTS.md, "What the remaining ACD is made of".
#
#   bash experiments/acd_finetune.sh FILE [NAME ...]   # FILE: `export` of the run
#   ROOT=DIR bash experiments/acd_finetune.sh FILE     # runs go to DIR/NAME
#
# About 12 min per row alone on 2 CPU cores; rows resume from their checkpoints.
# init_from restarts Adam's moments and the moving average from the file's
# weights, so `control` (no change) is the row the others compare with.
set -euo pipefail
cd "$(dirname "$0")/.."
FILE="$1"; shift
ROOT="${ROOT:-workdirs/acd_finetune}"
[ -x .venv/bin/mocogan-jax ] || bash tpu_setup/install.sh
declare -A CHANGE=(
  [control]=""
  [no_noise]="noise_sigma=0"
  [lr1e-4]="learning_rate=1e-4"
  [ema9999]="ema_decay=0.9999"
  [blur]="output_blur=true"
  [r1]="r1_gamma=0.1"
  [r1_video]="r1_gamma=0.1 r1_on=video"
  [r1_image]="r1_gamma=0.1 r1_on=image"
  [tv]="tv_weight=50"
  [tv_r1]="tv_weight=50 r1_gamma=0.1"
)
ORDER=(control no_noise lr1e-4 ema9999 blur r1 r1_video r1_image tv tv_r1)
names=("${@:-${ORDER[@]}}")
for name in "${names[@]}"; do
  [ -n "${CHANGE[$name]+x}" ] || { echo "unknown row $name (rows: ${ORDER[*]})" >&2; exit 2; }
  # shellcheck disable=SC2086
  .venv/bin/mocogan-jax train --config demo --workdir "$ROOT/$name" init_from="$FILE" \
    video_length=16 every_nth=2 num_steps=2500 eval_every=500 eval_metrics=acd eval_num=256 \
    eval_length=16 sample_every=500 checkpoint_every=500 ${CHANGE[$name]}
done
for name in "${names[@]}"; do
  echo "$name: $(grep -h eval/acd "$ROOT/$name/metrics.jsonl" | sed 's/.*"eval\/acd": //; s/}//' | tr '\n' ' ')"
done
.venv/bin/python experiments/quality.py "${names[@]/#/$ROOT/}"
for name in "${names[@]}"; do
  .venv/bin/python experiments/acd_parts.py --workdir "$ROOT/$name"
done

#!/usr/bin/env bash
# The 64x64 shape_motion attempts of experiments/RESULTS.md, "64x64 in one
# sitting": each row is the `shapes_64_cpu` preset (the demo's widths at
# 64x64) on 8-frame clips at every 4th frame, as the demo trains at 32x32
# (about half the 16-frame step), with one change against the video
# discriminator's early win. A row is a short run whose losses, step-500
# grids and ACD on 256 16-frame videos decide whether it earns a long one.
#
#   bash experiments/shapes_64_attempts.sh [NAME ...]       # default: every row
#   ROOT=DIR STEPS=N bash experiments/shapes_64_attempts.sh NAME
#
# Runs go to ROOT/NAME (default workdirs/shapes_64_attempts); each resumes
# from its checkpoints when the script is run again, and STEPS (default
# 1500) continues a row that earned it. Then experiments/quality.py scores
# each row's newest checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${ROOT:-workdirs/shapes_64_attempts}"
STEPS="${STEPS:-1500}"
[ -x .venv/bin/mocogan-jax ] || bash tpu_setup/install.sh
declare -A CHANGE=(
  [plain8]=""
  [r1_video]="r1_gamma=0.1 r1_on=video"
  [dv_half]="video_loss_weight=0.5"
  # The shipped 32x32 model grown by one stage: at half its width (ngf=16) the
  # 64x64 generator's first layers have the 32x32 one's shapes and start from
  # them; its last two stages and the video discriminator's last layers start
  # fresh (docs/interop.md, init_from_layers).
  [grown]="ngf=16 init_from=shape_motion init_from_layers=shared"
  # The same model with a stage put in front instead (at its own width, ngf=32):
  # the shipped stages, the RGB one and the content modulations among them,
  # become the 64x64 generator's last ones; its first two start fresh.
  [prepend]="init_from=shape_motion init_from_layers=prepend"
)
ORDER=(plain8 grown prepend r1_video dv_half)
names=("${@:-${ORDER[@]}}")
for name in "${names[@]}"; do
  [ -n "${CHANGE[$name]+x}" ] || { echo "unknown row $name (rows: ${ORDER[*]})" >&2; exit 2; }
  # shellcheck disable=SC2086
  .venv/bin/mocogan-jax train --config shapes_64_cpu --workdir "$ROOT/$name" \
    video_length=8 every_nth=4 num_steps="$STEPS" eval_every=500 sample_every=250 \
    checkpoint_every=250 ${CHANGE[$name]}
done
for name in "${names[@]}"; do
  echo "$name: $(grep -h eval/acd "$ROOT/$name/metrics.jsonl" | sed 's/.*"eval\/acd": //; s/}//' | tr '\n' ' ')"
done
.venv/bin/python experiments/quality.py "${names[@]/#/$ROOT/}"

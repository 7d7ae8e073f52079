#!/usr/bin/env bash
# The shipped 64x64 shape_motion model (mocogan_jax/pretrained/shape_motion_64.msgpack,
# model card in mocogan_jax/pretrained/README.md), from the shipped 32x32 one:
# grow it by a stage, train in two stages, export the file, draw its gallery.
#
#   bash experiments/shape_motion_64_model.sh [RUN]    # default RUN: workdirs/shape_motion_64
#
# The recipe (experiments/RESULTS.md, "64x64 in one sitting"):
#   1. the `prepend` attempt: the shapes_64_cpu preset on 8-frame clips at
#      every 4th frame, its generator the shipped 32x32 one with a fresh
#      stage put in front (init_from_layers=prepend), 5,000 steps (RUN); about
#      80 min alone on 2 CPU cores;
#   2. its networks continued (init_from: fresh Adam moments and moving
#      average) for 2,000 steps with the total-variation term, tv_weight=50
#      (RUN/tv), as the 32x32 model's second stage; about 35 min alone.
# Every stage resumes from its checkpoints when the script is run again.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${1:-workdirs/shape_motion_64}"
[ -x .venv/bin/mocogan-jax ] || bash tpu_setup/install.sh
cli=".venv/bin/mocogan-jax"
clips="video_length=8 every_nth=4"
# shellcheck disable=SC2086
"$cli" train --config shapes_64_cpu --workdir "$RUN" $clips init_from=shape_motion \
  init_from_layers=prepend num_steps=5000 eval_every=500 sample_every=250 checkpoint_every=250
"$cli" export --workdir "$RUN" --out "$RUN/stage1.msgpack"
# shellcheck disable=SC2086
"$cli" train --config shapes_64_cpu --workdir "$RUN/tv" init_from="$RUN/stage1.msgpack" $clips \
  tv_weight=50 num_steps=2000 eval_every=500 sample_every=500 checkpoint_every=250
"$cli" export --workdir "$RUN/tv" --out mocogan_jax/pretrained/shape_motion_64.msgpack
for mode in random fixed-content fixed-motion; do
  "$cli" sample --params shape_motion_64 --mode "$mode" --num 16 --length 16 \
    --out "docs/shape_motion_64_$mode.gif"
done

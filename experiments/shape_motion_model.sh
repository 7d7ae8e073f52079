#!/usr/bin/env bash
# The shipped shape_motion model (mocogan_jax/pretrained/shape_motion.msgpack,
# model card in mocogan_jax/pretrained/README.md), from nothing: train the
# generator in two stages, train its encoders, export the file, redraw the
# README's gallery.
#
#   bash experiments/shape_motion_model.sh [RUN]    # default RUN: workdirs/shape_motion
#
# The recipe (experiments/RESULTS.md, "The shipped model"):
#   1. the demo preset on 16-frame clips at every 2nd frame, 10,000 steps
#      (RUN; the `long16` row of notes/why_the_videos_drift.md); about 50 min
#      alone on 2 CPU cores;
#   2. its networks continued (init_from: fresh Adam moments and moving
#      average) for 2500 steps with the total-variation term, tv_weight=50
#      (RUN/tv; the `tv` row of "What the remaining ACD is made of"); about
#      15 min alone.
# Then the encoders on the frozen generator (2000 steps, about 18 min) and the
# export. Every stage resumes from its checkpoints when the script is run again.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${1:-workdirs/shape_motion}"
[ -x .venv/bin/mocogan-jax ] || bash tpu_setup/install.sh
cli=".venv/bin/mocogan-jax"
clips="video_length=16 every_nth=2 eval_metrics=acd eval_num=256 eval_length=16"
# shellcheck disable=SC2086
"$cli" train --config demo --workdir "$RUN" $clips num_steps=10000 eval_every=1000 \
  sample_every=1000 checkpoint_every=1000
"$cli" export --workdir "$RUN" --out "$RUN/stage1.msgpack"
# shellcheck disable=SC2086
"$cli" train --config demo --workdir "$RUN/tv" init_from="$RUN/stage1.msgpack" $clips \
  tv_weight=50 num_steps=2500 eval_every=500 sample_every=500 checkpoint_every=500
"$cli" train-encoder --workdir "$RUN/tv" --steps 2000
"$cli" export --workdir "$RUN/tv" --out mocogan_jax/pretrained/shape_motion.msgpack
bash experiments/gallery.sh "$RUN/tv"

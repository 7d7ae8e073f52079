#!/usr/bin/env bash
# The shipped shape_motion model (mocogan_jax/pretrained/shape_motion.msgpack,
# model card in mocogan_jax/pretrained/README.md), from nothing: train the
# generator, train its encoders, export the file, redraw the README's gallery.
#
#   bash experiments/shape_motion_model.sh [RUN]    # default RUN: workdirs/shape_motion
#
# The recipe: the demo preset on 16-frame clips at every 2nd frame, 10,000
# steps (experiments/notes/why_the_videos_drift.md, "Content-modulated generator layers", row
# long16). About 50 min of training and 5 of encoders alone on 2 CPU cores.
# Every stage resumes from its checkpoints when the script is run again.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${1:-workdirs/shape_motion}"
[ -x .venv/bin/mocogan-jax ] || bash tpu_setup/install.sh
.venv/bin/mocogan-jax train --config demo --workdir "$RUN" video_length=16 every_nth=2 \
  num_steps=10000 eval_every=1000 sample_every=1000 checkpoint_every=1000 \
  eval_metrics=acd eval_num=256 eval_length=16
.venv/bin/mocogan-jax train-encoder --workdir "$RUN" --steps 1000
.venv/bin/mocogan-jax export --workdir "$RUN" --out mocogan_jax/pretrained/shape_motion.msgpack
bash experiments/gallery.sh "$RUN"

#!/usr/bin/env bash
# The README's gallery (docs/shape_motion_*.gif and the training plot), drawn
# from the shipped shape_motion model by the commands a user runs.
#
#   bash experiments/gallery.sh [RUN]   # RUN: the workdir that made the model, for the plot
#
# Seconds on 2 CPU cores. The real clips for transfer and animate are drawn by
# the shape_motion renderer with seed 7, apart from the dataset's (seed 0):
# A and B differ in colour and direction.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/mocogan-jax ] || bash tpu_setup/install.sh
cli=".venv/bin/mocogan-jax"
clips="$(mktemp -d)"
trap 'rm -rf "$clips"' EXIT
for mode in random fixed-content fixed-motion; do
  "$cli" sample --params shape_motion --mode "$mode" --num 16 --length 16 \
    --out "docs/shape_motion_$mode.gif"
done
.venv/bin/python - "$clips" <<'PY'
import sys
import numpy as np
from PIL import Image
from mocogan_jax.data import shape_motion
rng = np.random.default_rng(7)
drawn = [shape_motion.render_video(rng, 32, 32) for _ in range(2)]
while drawn[1][2] == drawn[0][2] or np.abs(drawn[1][3].astype(int) - drawn[0][3]).max() < 128:
  drawn[1] = shape_motion.render_video(rng, 32, 32)  # another direction, another colour
for name, (video, *_) in zip("ab", drawn):  # image strips: a GIF would merge repeated frames
  Image.fromarray(np.concatenate(list(video), axis=1)).save(f"{sys.argv[1]}/{name}.png")
PY
"$cli" transfer --params shape_motion --content "$clips/a.png" --motion "$clips/b.png" \
  --out docs/shape_motion_transfer.gif
"$cli" animate --params shape_motion --image "$clips/a.png" --num 4 \
  --out docs/shape_motion_animate.gif
"$cli" predict --params shape_motion --dataset test --num 4 --context 4 --length 16 \
  --out docs/shape_motion_predict.gif
if [ -n "${1:-}" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[plot]" 2>&1 \
    | grep -v "^WARNING: Location" || true
  .venv/bin/python experiments/plot_metrics.py "$1" --out docs/shape_motion_training.png
fi
ls -l docs/shape_motion_*

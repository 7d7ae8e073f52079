"""How the shapes in a sample grid move: one line per video, from its GIF.

    .venv/bin/python experiments/measure_sample_motion.py workdirs/demo/samples/step_0002500.gif \
        --image_size 32

Reads a grid written by `mocogan-jax train` (or `sample`), finds each video's
bright pixels (over half its brightest value) in every frame, and reports
their area and the path of their centroid: a whole shape moving in a straight
line has a steady area and a path length close to its start-to-end distance.
"""

import argparse

import numpy as np
from PIL import Image, ImageSequence

GAP = 2  # pixels between videos in video_io.video_grid


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("gif")
  parser.add_argument("--image_size", type=int, required=True, help="side of one video")
  parser.add_argument("--columns", type=int, default=4)
  args = parser.parse_args()
  frames = np.stack([np.asarray(f.convert("RGB"), np.float32)
                     for f in ImageSequence.Iterator(Image.open(args.gif))])
  s = args.image_size
  scale = max(1, 128 // s)  # the upscaling the training loop applies
  frames = frames[:, ::scale, ::scale].sum(-1)
  rows = (frames.shape[1] - GAP) // (s + GAP)
  ys, xs = np.indices((s, s))
  moved = []
  for i in range(rows * args.columns):
    y0, x0 = GAP + (i // args.columns) * (s + GAP), GAP + (i % args.columns) * (s + GAP)
    video = frames[:, y0:y0 + s, x0:x0 + s]
    masks = video > 0.5 * max(video.max(), 1e-6)
    centre = np.array([[ys[m].mean(), xs[m].mean()] if m.sum() > 3 else [np.nan, np.nan]
                       for m in masks])
    area = masks.sum(axis=(1, 2))
    dy, dx = centre[-1] - centre[0]
    path = np.nansum(np.linalg.norm(np.diff(centre, axis=0), axis=1))
    moved.append(np.hypot(dy, dx))
    print(f"video {i:2d}: area {area.min():3d}-{area.max():3d} px, moved {moved[-1]:5.1f} px "
          f"(dy {dy:+5.1f}, dx {dx:+5.1f}), path {path:5.1f} px")
  print(f"median start-to-end distance: {np.nanmedian(moved):.1f} px")


if __name__ == "__main__":
  main()

"""How a shape_motion generator holds colour: by content code, and over time.

    .venv/bin/python experiments/generator_colour.py MODEL [MODEL ...]   # seconds each

MODEL is a run's workdir (its newest checkpoint, the moving average when it
has one) or an exported file or shipped name (`shape_motion`). Prints one
JSON line per model:
- by_content over six motion draws (keys 0-5): shape_quality.colour_by_content,
  which quality.py reports for key 1 alone; its spread over draws says how far
  apart two generators must be before the difference means anything;
- the generator's own colour drift (256 videos of 16 frames, key 1): the
  median distance (0..255) of each frame's mean shape colour from frame 1's
  at frames 2, 4, 8 and 16, and the share of videos whose colour over the
  video is within 30 of frame 1's (what `animate` can keep at best from
  codes the generator itself would draw).
"""

import argparse
import json
import os

import jax
import numpy as np

from mocogan_jax import video_io, workdir
from mocogan_jax.evaluation import metrics, shape_quality
from mocogan_jax.models import mocogan


def own_colour_drift(config, variables):
  """The generator's own 256 videos of 16 frames (key 1) -> the median
  distance of each frame's mean shape colour from frame 1's (16,), and the
  share of videos whose colour over the video is within 30 of frame 1's."""
  colours = metrics.shape_colours(video_io.to_uint8(
      mocogan.sample_videos(variables, config, jax.random.key(1), 256, 16)))  # (N, T, 3)
  drift = np.nanmedian(np.linalg.norm(colours - colours[:, :1], axis=-1), axis=0)
  kept = np.linalg.norm(np.nanmean(colours, axis=1) - colours[:, 0], axis=-1) <= 30
  return drift, float(np.mean(kept))


def colour_scores(config, variables) -> dict:
  by_content = [shape_quality.colour_by_content(
      config, variables, mocogan.sample_latents(jax.random.key(k), config, 64, 16))
      for k in range(6)]
  drift, kept = own_colour_drift(config, variables)
  return {"by_content": round(float(np.mean(by_content)), 1),
          "by_content_range": [round(min(by_content), 1), round(max(by_content), 1)],
          "drift_at_frames_2_4_8_16": np.round(drift[[1, 3, 7, 15]], 1).tolist(),
          "colour_kept": round(kept, 3)}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("models", nargs="+", help="workdirs, exported files or shipped names")
  for model in parser.parse_args().models:
    path, params = (model, None) if os.path.isdir(model) else (None, model)
    config, variables, what, *_ = workdir.generator_to_evaluate(path, None, None, params)
    print(json.dumps({"model": model, "what": what} | colour_scores(config, variables)))


if __name__ == "__main__":
  main()

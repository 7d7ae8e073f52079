"""Quick quality numbers of a shape_motion run's generator, seconds on a CPU.

    .venv/bin/python experiments/quality.py WORKDIR [WORKDIR ...] [--num 256] [--length 16]

For the newest checkpoint of each run, 256 generated videos, three ways:
  ema:    the moving average of G's weights (runs with ema_decay > 0)
  g_eval: the trained weights with BatchNorm's running averages (what sampling
          uses when there is no EMA)
  g_batch: the trained weights with BatchNorm over the batch of 64 videos, as
          in training: if it is much better than g_eval, the running averages
          are the problem, not the generator.
and prints per row:
  ACD        the paper's shape-colour ACD, 0..255;
  shown      the share of frames that show a shape;
  moving     the share of videos whose shape moves more than a quarter of the
             frame from the first frame to the last;
  speckle    the mean per-frame colour std of the shape pixels: flat shapes
             score low, the checkerboards of a broken generator high;
  direction  the share of videos moving in their category's most common
             direction (1 when each category has one direction of motion);
  tint       how far the mean colour over all videos moves over time (the
             largest range over t of the per-frame mean over videos, 0..255):
             a colour that follows the motion RNN's clock shows here;
  by_content the std of the mean shape colour (from frame 5 on) over 64 videos
             that differ only in z_content, averaged over channels: uniformly
             random real colours give about 55, near 0 means the generator
             ignores its content code for colour;
  h_std      the spread (std over videos, averaged over dimensions) of the
             motion states h_t at the first and last frame: near 0 at the end
             means the RNN has become a clock that every video shares.
"""

import argparse
import sys

import jax
import numpy as np

from mocogan_jax import video_io
from mocogan_jax.workdir import load_state
from mocogan_jax.config import ConfigError
from mocogan_jax.evaluation import metrics
from mocogan_jax.models import mocogan


def speckle(videos) -> float:
  """uint8 (N, T, S, S, C) -> mean over frames with a shape of the std of the
  shape pixels' colour (0..255), averaged over channels."""
  v = np.asarray(videos, np.float64)
  mask = v.max(-1, keepdims=True) > metrics.SHAPE_THRESHOLD
  count = mask.sum(axis=(2, 3))
  mean = metrics.shape_colours(videos)  # (N, T, C), NaN without a shape
  var = (np.square(v - mean[:, :, None, None]) * mask).sum(axis=(2, 3)) / np.maximum(count, 1)
  shown = count[..., 0] > 1
  return float(np.sqrt(var).mean(-1)[shown].mean()) if shown.any() else float("nan")


def row(videos, categories) -> dict:
  u8 = video_io.to_uint8(videos)
  colours = metrics.shape_colours(u8)
  tint = np.nanmean(colours, axis=0)  # (T, C)
  moved = np.linalg.norm(metrics.shape_displacements(u8), axis=-1)
  return {"acd": float(np.nanmean(metrics.shape_colour_acd(u8))),
          "shown": float(np.mean(~np.isnan(colours).any(-1))),
          "moving": float(np.mean(moved > u8.shape[2] / 4)),
          "speckle": speckle(u8),
          "direction": metrics.direction_agreement(metrics.shape_directions(u8), categories),
          "tint": float(np.max(tint.max(0) - tint.min(0)))}


def colour_by_content(config, variables, latents, batch_mode: bool) -> float:
  """Std of the mean shape colour over 64 videos sharing category and motion."""
  fixed = {k: (v[:64] if k == "content" else np.broadcast_to(v[:1], v[:64].shape))
           for k, v in latents.items()}
  colours = metrics.shape_colours(video_io.to_uint8(generate(config, variables, fixed, batch_mode)))
  return float(np.nanstd(np.nanmean(colours[:, 4:], axis=1), axis=0).mean())


def generate(config, variables, latents, batch_mode: bool):
  g = mocogan.generator(config)
  out = []
  for i in range(0, len(latents["content"]), 64):
    part = jax.tree.map(lambda x: x[i:i + 64], latents)
    if batch_mode:
      videos, _ = g.apply(variables, part, train=True, mutable=["batch_stats"])
    else:
      videos = g.apply(variables, part, train=False)
    out.append(np.asarray(videos))
  return np.concatenate(out)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("workdirs", nargs="+")
  parser.add_argument("--num", type=int, default=256)
  parser.add_argument("--length", type=int, default=16)
  args = parser.parse_args()
  print(f"{'run':<32} {'step':>6} {'weights':<8} {'ACD':>7} {'shown':>6} {'moving':>6} {'speckle':>8} "
        f"{'direction':>9} {'tint':>6} {'by_content':>10} {'h_std':>11}")
  for workdir in args.workdirs:
    try:
      config, state = load_state(workdir)
    except ConfigError as e:
      sys.exit(f"error: {workdir}: {e}")
    latents = mocogan.sample_latents(jax.random.key(1), config, args.num, args.length)
    categories = np.asarray(latents["category"])
    ways = {"g_eval": (state.generator.variables, False),
            "g_batch": (state.generator.variables, True)}
    if state.generator_ema is not None:
      ways = {"ema": (state.generator_ema, False)} | ways
    for name, (variables, batch_mode) in ways.items():
      r = row(generate(config, variables, latents, batch_mode), categories)
      h = np.asarray(mocogan.generator(config).apply(
          variables, latents["h0"], latents["eps"], method="continue_motion"))
      h_std = h.std(axis=0).mean(axis=-1)  # (T,)
      by_content = colour_by_content(config, variables, latents, batch_mode)
      print(f"{workdir[-32:]:<32} {int(state.step):>6} {name:<8} {r['acd']:>7.2f} "
            f"{r['shown']:>6.2f} {r['moving']:>6.2f} {r['speckle']:>8.1f} {r['direction']:>9.2f} "
            f"{r['tint']:>6.1f} {by_content:>10.1f} {h_std[0]:>5.2f}/{h_std[-1]:<5.2f}", flush=True)


if __name__ == "__main__":
  main()

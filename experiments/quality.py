"""Quick quality numbers of a shape_motion run's generator, seconds on a CPU.

    .venv/bin/python experiments/quality.py WORKDIR [WORKDIR ...] [--num 256] [--length 16]

For the newest checkpoint of each run, 256 generated videos, three ways:
  ema:    the moving average of G's weights (runs with ema_decay > 0)
  g_eval: the trained weights with BatchNorm's running averages (what sampling
          uses when there is no EMA)
  g_batch: the trained weights with BatchNorm over the batch of 64 videos, as
          in training: if it is much better than g_eval, the running averages
          are the problem, not the generator.
and prints per row the scores of mocogan_jax/evaluation/shape_quality.py (ACD,
shown, moving, speckle, direction, tint, by_content; its docstring says what
each measures) and
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
from mocogan_jax.errors import ConfigError
from mocogan_jax.evaluation import shape_quality
from mocogan_jax.models import mocogan


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
      videos = video_io.to_uint8(shape_quality.generate(config, variables, latents, batch_mode))
      r = shape_quality.video_scores(videos, categories)
      h = np.asarray(mocogan.generator(config).apply(
          variables, latents["h0"], latents["eps"], method="continue_motion"))
      h_std = h.std(axis=0).mean(axis=-1)  # (T,)
      by_content = shape_quality.colour_by_content(config, variables, latents, batch_mode)
      print(f"{workdir[-32:]:<32} {int(state.step):>6} {name:<8} {r['acd']:>7.2f} "
            f"{r['shown']:>6.2f} {r['moving']:>6.2f} {r['speckle']:>8.1f} {r['direction']:>9.2f} "
            f"{r['tint']:>6.1f} {by_content:>10.1f} {h_std[0]:>5.2f}/{h_std[-1]:<5.2f}", flush=True)


if __name__ == "__main__":
  main()

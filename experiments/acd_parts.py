"""What a shape_motion generator's ACD is made of: the same videos' ACD with
one part taken out at a time, and real clips with one part put in.

    .venv/bin/python experiments/acd_parts.py --workdir RUN [--step N] | --params FILE
                                              [--num 256] [--length 16]

ACD (the paper's, metrics.shape_colour_acd) is the mean over pairs of frames
of the distance between the frames' mean shape colours, the shape being the
pixels whose brightest channel exceeds metrics.SHAPE_THRESHOLD. A frame's mean
colour can move for four reasons, each a row:
  tint     every video's colour moving together with time (the motion RNN's
           clock): removed by subtracting the per-frame mean over videos;
  drift    each video's own slow colour change: removed by subtracting each
           video's least-squares line over time (after the tint);
  speckle  pixel-scale colour noise inside the shape, which a moving mask
           samples differently each frame: removed by a 3x3 median filter of
           every frame before measuring;
  edges    pixels at the shape's border that cross the threshold in some
           frames and not others, dimmer than the inside: removed by reading
           only pixels whose 4 neighbours are shape pixels too;
  mask     the shape growing and shrinking from frame to frame: removed by
           reading every frame through the first frame's mask, carried along
           with the shape.
The real-clip rows put the generated speckle (iid noise of the measured std)
and the generated edge into clips that have neither, to say how much ACD each
alone makes. Seconds on a CPU.
"""

import argparse
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mocogan_jax import export, video_io  # noqa: E402
from mocogan_jax.errors import ConfigError  # noqa: E402
from mocogan_jax.data import pipeline  # noqa: E402
from mocogan_jax.evaluation import metrics, shape_quality  # noqa: E402
from mocogan_jax.models import mocogan  # noqa: E402
from mocogan_jax.workdir import load_generator  # noqa: E402


def median3x3(videos) -> np.ndarray:
  """uint8 (N, T, S, S, C) -> the 3x3 median of every channel (edges repeated)."""
  v = np.pad(videos, [(0, 0), (0, 0), (1, 1), (1, 1), (0, 0)], mode="edge")
  s = videos.shape[2]
  shifted = [v[:, :, dy:dy + s, dx:dx + s] for dy in range(3) for dx in range(3)]
  return np.median(np.stack(shifted), axis=0).astype(np.uint8)


def interior_colours(videos) -> np.ndarray:
  """uint8 (N, T, S, S, C) -> (N, T, C) mean colour of the shape pixels whose 4
  neighbours are shape pixels too; NaN for a frame without one."""
  mask = np.asarray(videos).max(-1) > metrics.SHAPE_THRESHOLD  # (N, T, S, S)
  m = np.pad(mask, [(0, 0), (0, 0), (1, 1), (1, 1)])
  inner = mask & m[:, :, :-2, 1:-1] & m[:, :, 2:, 1:-1] & m[:, :, 1:-1, :-2] & m[:, :, 1:-1, 2:]
  count = inner.sum(axis=(2, 3))[..., None]
  total = (np.asarray(videos, np.float64) * inner[..., None]).sum(axis=(2, 3))
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(count > 0, total / count, np.nan)


def carried_mask_colours(videos) -> np.ndarray:
  """uint8 (N, T, S, S, C) -> (N, T, C) mean colour over one mask per video:
  the first frame's shape pixels, moved with the shape's centroid (rounded to
  whole pixels), so that no pixel enters or leaves the shape."""
  v = np.asarray(videos, np.float64)
  mask = v.max(-1) > metrics.SHAPE_THRESHOLD  # (N, T, S, S)
  ys, xs = np.mgrid[:v.shape[2], :v.shape[3]]
  out = np.full(v.shape[:2] + v.shape[-1:], np.nan)
  for i in range(v.shape[0]):
    if not mask[i, 0].any():
      continue
    start = np.array([ys[mask[i, 0]].mean(), xs[mask[i, 0]].mean()])
    for t in range(v.shape[1]):
      if mask[i, t].any():
        dy, dx = np.round([ys[mask[i, t]].mean(), xs[mask[i, t]].mean()] - start).astype(int)
        carried = np.roll(mask[i, 0], (dy, dx), (0, 1))
        out[i, t] = v[i, t][carried].mean(0)
  return out


def acd(colours) -> float:
  """(N, T, C) frame colours -> the mean over videos of their ACD."""
  return float(np.nanmean(metrics.mean_pairwise_distance(colours)))


def without_tint(colours) -> np.ndarray:
  return colours - np.nanmean(colours, axis=0, keepdims=True) + np.nanmean(colours, axis=(0, 1))


def without_drift(colours) -> np.ndarray:
  """Each video's least-squares line over time (per channel) subtracted, its
  mean kept; frames without a shape stay NaN."""
  t = np.arange(colours.shape[1], dtype=np.float64)
  out = np.full_like(colours, np.nan)
  for i, c in enumerate(colours):
    seen = ~np.isnan(c).any(-1)
    if seen.sum() < 2:
      continue
    slope, intercept = np.polyfit(t[seen], c[seen], 1)
    out[i, seen] = c[seen] - np.outer(t[seen], slope) - intercept + c[seen].mean(0)
  return out


def with_speckle(clips, std: float, rng) -> np.ndarray:
  """Real clips with iid Gaussian colour noise of `std` (0..255) on the shape."""
  noisy = clips.astype(np.float64) + rng.normal(0, std, clips.shape)
  shape = clips.max(-1, keepdims=True) > metrics.SHAPE_THRESHOLD
  return np.clip(np.where(shape, noisy, clips), 0, 255).astype(np.uint8)


def variance_shares(colours) -> dict:
  """(N, T, C) -> the shares of the frame colours' variance over time (summed
  over channels, averaged over videos) that the tint, each video's linear
  drift and the rest (jitter) make up; they add to 1."""
  total = np.nanmean(np.nansum(np.nanvar(colours, axis=1), -1))
  detinted = without_tint(colours)
  jitter = without_drift(detinted)
  left_tint = np.nanmean(np.nansum(np.nanvar(detinted, axis=1), -1))
  left_drift = np.nanmean(np.nansum(np.nanvar(jitter, axis=1), -1))
  return {"tint": 1 - left_tint / total, "drift": (left_tint - left_drift) / total,
          "jitter": left_drift / total}


def texture_correlations(videos) -> dict:
  """Where the colour inside the shape comes from, frame to frame: the
  correlation of each pixel's deviation from its frame's mean shape colour
  with the next frame's deviation at the same pixel (a pattern fixed to the
  grid), and at the pixel the shape's centroid moved it to (a pattern that
  moves with the shape). Both near 0: the pattern is drawn anew each frame."""
  v = np.asarray(videos, np.float64)
  mask = v.max(-1) > metrics.SHAPE_THRESHOLD  # (N, T, S, S)
  colours = metrics.shape_colours(videos)
  residual = v - colours[:, :, None, None]
  ys, xs = np.mgrid[:v.shape[2], :v.shape[3]]
  grid, moved = [], []
  for i in range(v.shape[0]):
    for t in range(v.shape[1] - 1):
      a, b = mask[i, t], mask[i, t + 1]
      if a.sum() < 4 or b.sum() < 4:
        continue
      shift = [int(round((ys[b].mean() - ys[a].mean()))), int(round(xs[b].mean() - xs[a].mean()))]
      for out, (dy, dx) in ((grid, (0, 0)), (moved, shift)):
        rb, mb = np.roll(residual[i, t + 1], (-dy, -dx), (0, 1)), np.roll(b, (-dy, -dx), (0, 1))
        both = a & mb
        if both.sum() >= 4:
          x, y = residual[i, t][both].ravel(), rb[both].ravel()
          if x.std() > 0 and y.std() > 0:
            out.append(np.corrcoef(x, y)[0, 1])
  return {"grid": float(np.mean(grid)), "moving": float(np.mean(moved))}


def area(videos) -> np.ndarray:
  """(N, T) shape pixels per frame."""
  return (np.asarray(videos).max(-1) > metrics.SHAPE_THRESHOLD).sum(axis=(2, 3))


def rows(videos, clips, rng) -> list[tuple[str, float]]:
  colours = metrics.shape_colours(videos)
  median = median3x3(videos)
  std = shape_quality.speckle(videos)
  out = [("generated, as measured", acd(colours)),
         ("  tint removed", acd(without_tint(colours))),
         ("  tint and drift removed (frame-to-frame jitter left)",
          acd(without_drift(without_tint(colours)))),
         ("  speckle removed (3x3 median)", acd(metrics.shape_colours(median))),
         ("  edges removed (interior pixels)", acd(interior_colours(videos))),
         ("  speckle and edges removed", acd(interior_colours(median))),
         ("  mask changes removed (frame 1's mask carried with the shape)",
          acd(carried_mask_colours(videos))),
         ("  speckle, edges, tint and drift removed",
          acd(without_drift(without_tint(interior_colours(median))))),
         ("real clips", acd(metrics.shape_colours(clips))),
         (f"  + iid speckle of the generated std ({std:.1f})",
          acd(metrics.shape_colours(with_speckle(clips, std, rng))))]
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir")
  parser.add_argument("--step", type=int)
  parser.add_argument("--params")
  parser.add_argument("--num", type=int, default=256)
  parser.add_argument("--length", type=int, default=16)
  args = parser.parse_args()
  if (args.workdir is None) == (args.params is None):
    sys.exit("error: give one of --workdir RUN or --params FILE")
  try:
    if args.params:
      config, variables, _ = export.load(args.params)
    else:
      config, variables = load_generator(args.workdir, step=args.step)
  except ConfigError as e:
    sys.exit(f"error: {e}")
  latents = mocogan.sample_latents(jax.random.key(1), config, args.num, args.length)
  videos = video_io.to_uint8(shape_quality.generate(config, variables, latents))
  _, held_out, _ = pipeline.train_and_held_out(config)
  # A real colour is constant, whatever the stride: take the run's, or the
  # longest that fits the data's 32-frame videos.
  every_nth = min(config.every_nth, 31 // max(args.length - 1, 1))
  clips, _ = pipeline.sample_clips(held_out, args.num, args.length, every_nth,
                                   [config.seed, pipeline.ClipStream.ACD_PARTS])
  print(f"{args.params or args.workdir}: {args.num} videos of {args.length} frames\n")
  print("| videos | ACD |\n|---|---|")
  for name, value in rows(videos, clips, np.random.default_rng(0)):
    print(f"| {name} | {value:.2f} |")
  shares = variance_shares(metrics.shape_colours(videos))
  print(f"\nshares of the frame colours' variance over time: tint {shares['tint']:.2f}, "
        f"drift {shares['drift']:.2f}, jitter {shares['jitter']:.2f}")
  correlation = texture_correlations(videos)
  print(f"the colour pattern inside the shape, frame to frame: correlation "
        f"{correlation['grid']:.2f} at the same pixel, {correlation['moving']:.2f} moved "
        f"with the shape")
  generated, real = area(videos).astype(np.float64), area(clips).astype(np.float64)
  print(f"shape area (pixels): generated {generated.mean():.1f}, real {real.mean():.1f}; "
        f"std over time within a video: generated {generated.std(1).mean():.1f}, "
        f"real {real.std(1).mean():.1f}")


if __name__ == "__main__":
  main()

"""How a generator does on shape_motion, in seconds on a CPU: the numbers of
experiments/quality.py, the model card and tests/test_pretrained.py.

    scores = shape_quality.measure(config, variables, jax.random.key(1), 256, 16)

Every score reads the shape as the pixels whose brightest channel exceeds
metrics.SHAPE_THRESHOLD on the black background (0..255 units):
  acd         the paper's shape-colour ACD;
  shown       the share of frames that show a shape;
  moving      the share of videos whose shape moves more than a quarter of the
              frame from the first frame to the last;
  direction   the share moving in their category's most common direction;
  speckle     the mean per-frame colour std of the shape pixels (data: about 0);
  tint        the largest range over time of the mean colour over all videos:
              a colour that follows the motion RNN's clock shows here;
  by_content  the std of the mean shape colour over 64 videos that differ only
              in z_content (uniformly random real colours: about 55; 0 means
              the generator ignores its content code for colour).
`generator_swap` is separate: one video's z_content drawn with another's
category and motion, scored as a transfer (metrics.transfer_scores).
"""

import functools

import jax
import numpy as np

from mocogan_jax import video_io
from mocogan_jax.config import Config
from mocogan_jax.evaluation import metrics
from mocogan_jax.models import mocogan


def generate(config: Config, variables, latents, batch_mode: bool = False, chunk: int = 64):
  """Latents of N videos -> float32 (N, T, S, S, C) in [-1, 1], `chunk` videos
  a call. batch_mode: BatchNorm over each chunk, as in training, instead of
  the running averages."""
  out = []
  for i in range(0, len(latents["content"]), chunk):
    part = jax.tree.map(lambda x: x[i:i + chunk], latents)
    out.append(np.asarray(_generate_chunk(config, variables, part, batch_mode)))
  return np.concatenate(out)


# One program per chunk shape: op by op, the generator would compile each of
# its ops on the first call.
@functools.partial(jax.jit, static_argnums=(0, 3))
def _generate_chunk(config: Config, variables, latents, batch_mode: bool):
  g = mocogan.generator(config)
  if batch_mode:
    return g.apply(variables, latents, train=True, mutable=["batch_stats"])[0]
  return g.apply(variables, latents, train=False)


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


def video_scores(videos, categories) -> dict:
  """uint8 (N, T, S, S, 3) videos and their (N,) categories -> acd, shown,
  moving, speckle, direction, tint."""
  colours = metrics.shape_colours(videos)
  tint = np.nanmean(colours, axis=0)  # (T, C)
  moved = np.linalg.norm(metrics.shape_displacements(videos), axis=-1)
  return {"acd": float(np.nanmean(metrics.shape_colour_acd(videos))),
          "shown": float(np.mean(~np.isnan(colours).any(-1))),
          "moving": float(np.mean(moved > videos.shape[2] / 4)),
          "speckle": speckle(videos),
          "direction": metrics.direction_agreement(metrics.shape_directions(videos), categories),
          "tint": float(np.max(tint.max(0) - tint.min(0)))}


def colour_by_content(config: Config, variables, latents, batch_mode: bool = False) -> float:
  """The first 64 videos' z_content, all with video 0's category and motion ->
  the std over videos of the mean shape colour from frame 5 on, averaged over
  channels."""
  fixed = {k: (v[:64] if k == "content" else np.broadcast_to(v[:1], v[:64].shape))
           for k, v in latents.items()}
  colours = metrics.shape_colours(video_io.to_uint8(generate(config, variables, fixed, batch_mode)))
  return float(np.nanstd(np.nanmean(colours[:, 4:], axis=1), axis=0).mean())


def generator_swap(config: Config, variables, key, pairs: int = 128, length: int = 16) -> dict:
  """Generated video i's z_content with video i+1's category and motion states:
  does the generator keep the colour with the content and the direction with
  the motion? Colours and directions are read from the unswapped videos; pairs
  whose directions agree, or whose colours are within 64 on every channel (or
  unreadable), are left out, as for real pairs. Returns
  metrics.transfer_scores (pairs, colour_of_a, direction_of_b, ...)."""
  g = mocogan.generator(config)
  latents = mocogan.sample_latents(key, config, pairs, length)
  # Compiled with the weights as arguments, not as constants baked into the program.
  motion = jax.jit(functools.partial(g.apply, method="continue_motion"))(
      variables, latents["h0"], latents["eps"])
  category = jax.nn.one_hot(latents["category"], config.n_categories)
  decode = jax.jit(functools.partial(g.apply, train=False, method="decode"))
  own = video_io.to_uint8(decode(variables, latents["content"], category, motion))
  moved = video_io.to_uint8(decode(variables, latents["content"], np.roll(category, -1, 0),
                                   np.roll(motion, -1, 0)))
  colours = np.nanmean(metrics.shape_colours(own), axis=1)
  directions = metrics.shape_directions(own)
  b_colours, b_directions = np.roll(colours, -1, 0), np.roll(directions, -1)
  differ = metrics.distinct_pairs(colours, b_colours, directions, b_directions)
  return metrics.transfer_scores(moved[differ], colours[differ], b_colours[differ],
                                 directions[differ], b_directions[differ])


def measure(config: Config, variables, key, num: int = 256, length: int = 16) -> dict:
  """`num` videos of `length` frames from the generator in inference mode ->
  video_scores and by_content (see the module docstring)."""
  latents = mocogan.sample_latents(key, config, num, length)
  videos = video_io.to_uint8(generate(config, variables, latents))
  return video_scores(videos, np.asarray(latents["category"])) | {
      "by_content": colour_by_content(config, variables, latents)}

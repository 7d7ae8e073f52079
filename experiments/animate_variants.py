"""Image-to-video (animate) on the shipped model: which codes to refine when
fitting the image, under which category, and with which extra loss. The
tables of experiments/notes/inversion.md, "Animate".

    .venv/bin/python experiments/animate_variants.py content+motion:0:100:picked \
        content+motion:0:1000:own content+path:0:1000:own content+motion:0:100:own:mean=10

Each variant is FREE:PRIOR:STEPS:CATEGORY[:LOSS=WEIGHT]:
- FREE, the codes refined: `content`, `motion` (the state h_1 itself) or
  `path` (h_1 = the motion RNN's first step from a fitted h_0 and input
  eps_1, so h_1 stays on the RNN's paths), joined by +;
- PRIOR, the weight of a penalty on the mean square of the refined codes
  (z_content; h_0 and eps_1 with `path`), whose prior is N(0, I);
- STEPS, Adam steps at 0.05 (keeping the last codes);
- CATEGORY, the one the image is fitted under and the video moves in:
  `picked` fits under the decoded image's nearest category and moves in
  categories cycling over 0..K-1 (as encoding.animate did before its
  default became the image's own), `held` fits and moves in the cycling
  ones, `own` fits and moves in the picked one (encoding.animate's default);
- LOSS=WEIGHT, an extra term: `mean` the per-channel frame mean of the
  fitted frame against the image's; `hold` the same for every frame of a
  video continued with fixed noise; `features` the image discriminator's
  activations, averaged over positions, of every continued frame against the
  image's.
The 256 held-out clips of experiments/prediction.py, their first frames
animated to 16 frames; colour kept: the shape colour (0..255) within 30 of
the image's, for the video's mean, its frame 1 and its last 4 frames, and
the median colour error at every frame.
"""
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mocogan_jax import export, video_io, workdir
from mocogan_jax.data import pipeline
from mocogan_jax.evaluation import metrics as M
from mocogan_jax.models import mocogan
from mocogan_jax.pixels import to_float
from mocogan_jax.predictors import encoding

config, settings, enc, gen = workdir.load_encoders(None, params="shape_motion")
image_discriminator = export.load_networks("shape_motion")[1]["image_discriminator"]
_, held_out, _ = pipeline.train_and_held_out(config)
clips, _ = pipeline.sample_clips(held_out, 256, 16, config.every_nth,
                                 [config.seed, pipeline.ClipStream.PREDICTION_TABLE])
images = clips[:, 0]
generator = mocogan.generator(config)
run_on = lambda h, eps: generator.apply(gen, h, eps, method="continue_motion")


def pooled_features(frames):
  """float (N, T, S, S, C) -> (N, T, F): D_I's activations averaged over positions."""
  n, t = frames.shape[:2]
  layers = encoding.discriminator_features(image_discriminator, config,
                                           frames.reshape((n * t,) + frames.shape[2:]))
  return jnp.concatenate([f.mean((1, 2)) for f in layers], -1).reshape(n, t, -1)


def run(free, prior_weight, steps, category_mode, loss="", loss_weight=0.0):
  frame_mean = lambda x: x.mean((2, 3))  # (N, T, C)

  @jax.jit
  def go(images, key):
    n = images.shape[0]
    k_eps, k_hold = jax.random.split(key)
    hold_eps = jax.random.normal(k_hold, (n, 15, config.dim_z_motion))
    categories = jnp.arange(n) % config.n_categories
    codes = encoding.encode(enc, config, settings.content_from, images[:, None])
    if category_mode in ("picked", "own"):
      codes = encoding.pick_category(gen, config, codes, images[:, None])
      fit_under = codes["category"]
      if category_mode == "own":
        categories = jnp.argmax(fit_under, axis=-1)
    else:
      fit_under = jax.nn.one_hot(categories, config.n_categories)
    moves_in = jax.nn.one_hot(categories, config.n_categories)
    target = to_float(images[:, None])
    start = {"content": codes["content"], "motion": codes["motion"],
             "h0": codes["motion"][:, -1], "eps1": jnp.zeros_like(codes["motion"][:, -1])}
    content = lambda p: p["content"] if "content" in free else start["content"]

    def motion(p):
      if "path" in free:
        return run_on(p["h0"], p["eps1"][:, None])
      return p["motion"] if "motion" in free else start["motion"]

    def error(p):
      decoded = encoding.decode(gen, config, {"content": content(p), "motion": motion(p),
                                              "category": fit_under})
      e = jnp.mean(jnp.square(decoded - target), axis=(1, 2, 3, 4))
      if loss == "mean":
        e += loss_weight * jnp.mean(jnp.square(frame_mean(decoded) - frame_mean(target)), (1, 2))
      if loss in ("hold", "features"):
        video = encoding.decode(gen, config, {"content": content(p), "category": moves_in,
                                              "motion": run_on(motion(p)[:, -1], hold_eps)})
        stat = frame_mean if loss == "hold" else pooled_features
        e += loss_weight * jnp.mean(jnp.square(stat(video) - stat(target)), axis=(1, 2))
      prior = jnp.mean(jnp.square(content(p)), axis=-1)
      if "path" in free:
        prior += jnp.mean(jnp.square(p["h0"]) + jnp.square(p["eps1"]), axis=-1)
      return e + prior_weight * prior

    tx = optax.adam(0.05)

    def step(carry, _):
      p, opt_state = carry
      updates, opt_state = tx.update(jax.grad(lambda p: error(p).sum())(p), opt_state)
      return (optax.apply_updates(p, updates), opt_state), None

    (p, _), _ = jax.lax.scan(step, (start, tx.init(start)), None, length=steps)
    first = motion(p)[:, -1]
    future = run_on(first, jax.random.normal(k_eps, (n, 15, config.dim_z_motion)))
    return encoding.decode(gen, config, {"content": content(p), "category": moves_in,
                                         "motion": jnp.concatenate([first[:, None], future], 1)}
                           ), categories

  videos, categories = go(images, jax.random.key(0))
  first, image = (np.asarray(videos[:, 0]) + 1) / 2, images.astype(np.float32) / 255
  moved = video_io.to_uint8(videos)
  image_colour = np.nanmean(M.shape_colours(images[:, None]), axis=1)  # (N, 3)
  colours = M.shape_colours(moved)  # (N, T, 3)
  kept = lambda c: float(np.mean(np.linalg.norm(np.nanmean(c, axis=1) - image_colour, axis=-1)
                                 <= 30))
  return {"psnr_first": float(np.mean(M.psnr(first, image))),
          "direction": M.direction_agreement(M.shape_directions(moved), np.asarray(categories)),
          "colour_kept": kept(colours), "colour_kept_first": kept(colours[:, :1]),
          "colour_kept_last": kept(colours[:, -4:]),
          "colour_error_by_frame": np.round(np.nanmedian(np.linalg.norm(
              colours - image_colour[:, None], axis=-1), axis=0), 1).tolist()}


for spec in sys.argv[1:]:
  free, prior, steps, mode, *extra = spec.split(":")
  loss, weight = extra[0].split("=") if extra else ("", "0")
  print(spec, json.dumps(run(tuple(free.split("+")), float(prior), int(steps), mode, loss,
                             float(weight))), flush=True)

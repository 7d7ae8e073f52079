"""Image-to-video (animate) on the shipped model: which codes to refine when
fitting the image, and under which category. The table of
experiments/notes/inversion.md, "Animate: the category to fit the image under".

    .venv/bin/python experiments/animate_variants.py content+motion:0:100:picked \
        content+motion:0:100:held content:0:100:picked content:0:100:held

Each variant is FREE:PRIOR:STEPS:CATEGORY: the codes refined (content, motion
or both), the weight of a penalty on |z_content|^2, the Adam steps, and the
category the image is fitted under: `picked` (the decoded image nearest, as
encoding.animate does) or `held` (the category the video then moves in). The
256 held-out clips of experiments/prediction.py; their first frames animated
with the categories cycling, 16 frames; colour kept within 30 (0..255) of the
image's shape colour over the whole video and over its last 4 frames.
"""
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mocogan_jax import video_io, workdir
from mocogan_jax.data import pipeline
from mocogan_jax.evaluation import metrics as M
from mocogan_jax.models import mocogan
from mocogan_jax.pixels import to_float
from mocogan_jax.predictors import encoding
config, settings, enc, gen = workdir.load_encoders(None, params="shape_motion")
_, held_out, _ = pipeline.train_and_held_out(config)
clips, _ = pipeline.sample_clips(held_out, 256, 16, config.every_nth,
                                 [config.seed, pipeline.ClipStream.PREDICTION_TABLE])
images = clips[:, 0]

def run(free, prior_weight, steps, category_mode):
  @jax.jit
  def go(images, key):
    n = images.shape[0]
    k_eps, _ = jax.random.split(key)
    cats = jnp.arange(n) % config.n_categories
    codes = encoding.encode(enc, config, settings.content_from, images[:, None])
    if category_mode == "picked":
      codes = encoding.pick_category(gen, config, codes, images[:, None])
      cat_fit = codes["category"]
    else:
      cat_fit = jax.nn.one_hot(cats, config.n_categories)
    target = to_float(images[:, None])
    p0 = {"content": codes["content"], "motion": codes["motion"]}
    def err(p):
      c = {"content": p["content"] if "content" in free else p0["content"],
           "motion": p["motion"] if "motion" in free else p0["motion"], "category": cat_fit}
      e = encoding.pixel_errors(gen, config, c, target)
      return e + prior_weight * jnp.mean(jnp.square(p["content"]), axis=-1)
    tx = optax.adam(0.05)
    def step(carry, _):
      p, s = carry
      g = jax.grad(lambda p: err(p).sum())(p)
      u, s = tx.update(g, s)
      return (optax.apply_updates(p, u), s), None
    (p, _), _ = jax.lax.scan(step, (p0, tx.init(p0)), None, length=steps)
    content = p["content"] if "content" in free else p0["content"]
    first = p["motion"][:, -1] if "motion" in free else p0["motion"][:, -1]
    eps = jax.random.normal(k_eps, (n, 15, config.dim_z_motion))
    fut = mocogan.generator(config).apply(gen, first, eps, method="continue_motion")
    return encoding.decode(gen, config, {"content": content, "category": jax.nn.one_hot(cats, config.n_categories),
                                         "motion": jnp.concatenate([first[:, None], fut], 1)}), cats
  videos, cats = go(images, jax.random.key(0))
  first, image = (np.asarray(videos[:, 0]) + 1) / 2, images.astype(np.float32) / 255
  moved = video_io.to_uint8(videos)
  ic = np.nanmean(M.shape_colours(images[:, None]), axis=1)
  col = np.nanmean(M.shape_colours(moved), axis=1)
  return {"psnr_first": float(np.mean(M.psnr(first, image))),
          "direction": M.direction_agreement(M.shape_directions(moved), np.asarray(cats)),
          "colour_kept": float(np.mean(np.linalg.norm(col - ic, axis=-1) <= 30)),
          "colour_kept_last": float(np.mean(np.linalg.norm(np.nanmean(M.shape_colours(moved[:, -4:]), axis=1) - ic, axis=-1) <= 30))}

for spec in sys.argv[1:]:
  free, prior, steps, mode = spec.split(":")
  print(spec, json.dumps(run(tuple(free.split("+")), float(prior), int(steps), mode)), flush=True)

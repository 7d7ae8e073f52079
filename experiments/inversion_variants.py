"""Which way of reading a real clip's codes serves motion transfer? Variants of
encoding.invert on the shipped model, scored by transfer on fresh
shape_motion pairs: the tables of experiments/notes/inversion.md, "Inversion".

    .venv/bin/python experiments/inversion_variants.py [PAIRS [ROW ...]]   # default 60, every row

A row is a list of phases applied in order to the encoders' codes:
  ("adam", steps, free codes, loss)  Adam at 0.05 on the listed codes, the
                                     others frozen; the last codes are kept
  ("category", loss)                 each clip's best one-hot category
                                     (encoding.pick_category)
  ("content", M, loss)               the best of the encoders' content code
                                     and M draws of the prior
A loss is a tuple of (pooling factor, weight): factor 1 is the pixel error,
factor 32 at 32x32 compares each frame's mean colour. 10 s to 4 min per row
on 2 CPU cores.
"""
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mocogan_jax import video_io, workdir
from mocogan_jax.predictors import encoding
from mocogan_jax.data import shape_motion
from mocogan_jax.evaluation import metrics
from mocogan_jax.pixels import to_float

PIXELS = ((1, 1.0),)
POOLED = ((1, 1.0), (4, 1.0), (8, 1.0))
PIXELS_AND_MEAN = ((1, 1.0), (32, 30.0))
MEAN = ((32, 1.0),)
ALL = ("content", "logits", "motion")
ROWS = {
    "encoders": (),
    "adam content": (("adam", 100, ("content",), PIXELS),),
    "adam content, category": (("adam", 100, ("content", "logits"), PIXELS),),
    "adam all (encoding.invert)": (("adam", 100, ALL, PIXELS),),
    "adam motion, category": (("adam", 100, ("logits", "motion"), PIXELS),),
    "adam motion, category; then all": (("adam", 50, ("logits", "motion"), PIXELS),
                                        ("adam", 50, ALL, PIXELS)),
    "adam all, pooled": (("adam", 100, ALL, POOLED),),
    "adam motion, category; then all, pooled": (("adam", 50, ("logits", "motion"), POOLED),
                                                ("adam", 50, ALL, POOLED)),
    "adam motion, category; then content, pooled": (
        ("adam", 50, ("logits", "motion"), POOLED), ("adam", 50, ("content",), POOLED)),
    "adam all, pixels + frame mean": (("adam", 100, ALL, PIXELS_AND_MEAN),),
    "category": (("category", PIXELS),),
    "category; adam all": (("category", PIXELS), ("adam", 100, ALL, PIXELS)),
    "category; adam content, pooled": (("category", PIXELS), ("adam", 50, ("content",), POOLED)),
    "category; adam content, category, pooled": (
        ("category", PIXELS), ("adam", 50, ("content", "logits"), POOLED)),
    "category; adam content, pixels + frame mean": (
        ("category", PIXELS), ("adam", 50, ("content",), PIXELS_AND_MEAN)),
    "category; adam content, frame mean": (("category", PIXELS),
                                           ("adam", 100, ("content",), MEAN)),
    "category; content search 64": (("category", PIXELS), ("content", 64, PIXELS)),
    "category; content search 256": (("category", PIXELS), ("content", 256, PIXELS)),
    "category; content search 64, frame mean": (("category", PIXELS), ("content", 64, MEAN)),
    "category; content search 64; adam motion": (
        ("category", PIXELS), ("content", 64, PIXELS), ("adam", 50, ("motion",), PIXELS)),
}

config, settings, encoders, generator = workdir.load_encoders(None, params="shape_motion")


def pool(x, factor):
  n, t, s, _, c = x.shape
  return x.reshape(n, t, s // factor, factor, s // factor, factor, c).mean((3, 5))


def loss(decoded, target, terms):  # -> (N,)
  return sum(weight * jnp.mean((pool(decoded, f) - pool(target, f)) ** 2, axis=(1, 2, 3, 4))
             for f, weight in terms)


def as_codes(p):
  return {"content": p["content"], "motion": p["motion"],
          "category": jax.nn.softmax(p["logits"], -1)}


def adam(p, target, steps, free, terms):
  fixed = p

  def errors(q):
    q = {k: q[k] if k in free else jax.lax.stop_gradient(fixed[k]) for k in q}
    return loss(encoding.decode(generator, config, as_codes(q)), target, terms)

  tx = optax.adam(0.05)

  def step(carry, _):
    q, opt_state = carry
    _, pullback = jax.vjp(errors, q)
    updates, opt_state = tx.update(pullback(jnp.ones(q["content"].shape[0]))[0], opt_state)
    return (optax.apply_updates(q, updates), opt_state), None

  return jax.lax.scan(step, (p, tx.init(p)), None, length=steps)[0][0]


def search(p, target, name, candidates, terms):  # candidates (M, N, ...) -> the best per clip
  errors = jax.lax.map(lambda c: loss(encoding.decode(generator, config, as_codes(p | {name: c})),
                                      target, terms), candidates)
  return p | {name: candidates[jnp.argmin(errors, 0), jnp.arange(candidates.shape[1])]}


def read(videos, phases):
  guess = encoding.encode(encoders, config, settings.content_from, videos)
  target = to_float(videos)
  p = {"content": guess["content"], "motion": guess["motion"],
       "logits": guess["category_logits"]}
  for phase in phases:
    if phase[0] == "adam":
      p = adam(p, target, *phase[1:])
    elif phase[0] == "category":
      k = config.n_categories
      one_hot = 8.0 * jnp.eye(k)[:, None, :] * jnp.ones_like(p["logits"])[None]  # (K, N, K)
      p = search(p, target, "logits", one_hot, phase[1])
    else:
      _, m, terms = phase
      draws = jax.random.normal(jax.random.key(7), (m,) + p["content"].shape)
      p = search(p, target, "content", jnp.concatenate([p["content"][None], draws]), terms)
  decoded = encoding.decode(generator, config, as_codes(p))
  return as_codes(p), jnp.mean((decoded - target) ** 2, axis=(1, 2, 3, 4))


def main():
  pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 60
  rows = sys.argv[2:] or list(ROWS)
  length, nth = config.video_length, config.every_nth
  rng = np.random.default_rng(1)
  drawn = [shape_motion.render_video(rng, 32, 32) for _ in range(600)]
  clips = np.stack([v[:(length - 1) * nth + 1:nth] for v, *_ in drawn])
  motions = np.array([m for _, _, m, _ in drawn])
  colours = np.stack([c for *_, c in drawn])
  ok = np.flatnonzero(metrics.distinct_pairs(colours[0::2], colours[1::2], motions[0::2],
                                             motions[1::2]))[:pairs]
  a_clips, b_clips = clips[0::2][ok], clips[1::2][ok]
  ca, cb, ma, mb = colours[0::2][ok], colours[1::2][ok], motions[0::2][ok], motions[1::2][ok]
  print(f"{len(ok)} pairs")
  for name in rows:
    reader = jax.jit(lambda v, phases=ROWS[name]: read(v, phases))
    began = time.time()
    a, error_a = reader(a_clips)
    b, _ = reader(b_clips)
    moved = video_io.to_uint8(encoding.decode(generator, config, b | {"content": a["content"]}))
    moved_scores = metrics.transfer_scores(moved, ca, cb, ma, mb)
    rebuilt = video_io.to_uint8(encoding.decode(generator, config, a))
    rebuilt_scores = metrics.transfer_scores(rebuilt, ca, cb, ma, mb)
    print(f"| {name} | {float(error_a.mean()):.4f} | {moved_scores['colour_of_a']:.2f} | "
          f"{moved_scores['direction_of_b']:.2f} | {rebuilt_scores['colour_of_a']:.2f}, "
          f"{rebuilt_scores['direction_of_a']:.2f} | {time.time() - began:.0f} s |", flush=True)


if __name__ == "__main__":
  main()

"""Two readings of an image for `animate` that aim at its colour, against the
default (encoding.read_codes with 1000 steps): notes/inversion.md, "Animate".

    .venv/bin/python experiments/animate_colour_search.py --num 64 --candidates 512

- search: z_content from `candidates` prior draws, decoded at the image's
  read h_1 and category, the one whose shape colour is nearest the image's;
  then with `--fit_steps` Adam steps on h_1 alone against the image's pixels;
- gain: the default reading's video times a per-channel gain, the least
  squares fit of its frame 1 to the image.
The first `num` held-out clips of experiments/prediction.py, their first
frames animated to 16 frames in the image's own category; prints frame 1
PSNR, direction agreement, and the share of videos (and of frames 1) whose
shape colour is within 30 of the image's.
"""
import argparse

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mocogan_jax import video_io, workdir
from mocogan_jax.data import pipeline
from mocogan_jax.evaluation import metrics
from mocogan_jax.pixels import to_float
from mocogan_jax.predictors import encoding

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--params", default="shape_motion")
p.add_argument("--num", type=int, default=64)
p.add_argument("--candidates", type=int, default=512)
p.add_argument("--fit_steps", type=int, default=300)
args = p.parse_args()

config, settings, encoders, generator = workdir.load_encoders(None, params=args.params)
_, held_out, _ = pipeline.train_and_held_out(config)
clips, _ = pipeline.sample_clips(held_out, 256, 16, config.every_nth,
                                 [config.seed, pipeline.ClipStream.PREDICTION_TABLE])
images = clips[:args.num, 0]
image_colours = np.nanmean(metrics.shape_colours(images[:, None]), axis=1)  # (N, 3)
codes = encoding.read_codes(generator, encoders, config, settings.content_from,
                            images[:, None], encoding.ANIMATE_INVERSION_STEPS)
own = np.argmax(codes["category"], -1)


def report(name, videos):
  """float videos (N, T, S, S, C) in [-1, 1] -> one printed line."""
  moved = video_io.to_uint8(videos)
  colours = metrics.shape_colours(moved)
  within = lambda c: float(np.mean(np.linalg.norm(c - image_colours, axis=-1) <= 30))
  first = (np.clip(np.asarray(videos[:, 0]), -1, 1) + 1) / 2
  print(f"{name:28s} frame 1 {float(np.mean(metrics.psnr(first, images / 255))):.2f} dB  "
        f"direction {metrics.direction_agreement(metrics.shape_directions(moved), own):.2f}  "
        f"colour kept {within(np.nanmean(colours, axis=1)):.2f} (frame 1 {within(colours[:, 0]):.2f})")


default = encoding.animate_codes(generator, config, codes, 16, jax.random.key(0))
report("default", default)

# gain: frame 1 fitted to the image per channel by least squares, in [0, 1].
unit = (np.asarray(default) + 1) / 2
x, y = unit[:, 0], images / 255
gain = (x * y).sum((1, 2)) / np.maximum((x * x).sum((1, 2)), 1e-6)  # (N, C)
report("gain fitted on frame 1", np.clip(unit * gain[:, None, None, None], 0, 1) * 2 - 1)

# search: prior content codes by shape colour at the read h_1 and category.
candidates = jax.random.normal(jax.random.key(5), (args.candidates, config.dim_z_content))
category = jax.nn.one_hot(own, config.n_categories)
decode_all = jax.jit(lambda h1, c: encoding.decode(generator, config, {
    "content": candidates, "category": jnp.broadcast_to(c, (args.candidates,) + c.shape),
    "motion": jnp.broadcast_to(h1, (args.candidates, 1) + h1.shape)}))
chosen = []
for i in range(args.num):
  drawn = np.nanmean(metrics.shape_colours(video_io.to_uint8(
      decode_all(codes["motion"][i, -1], category[i]))), axis=1)
  distance = np.nan_to_num(np.linalg.norm(drawn - image_colours[i], axis=-1), nan=np.inf)
  chosen.append(candidates[int(np.argmin(distance))])
searched = codes | {"content": jnp.stack(chosen), "category": category}
report("search", encoding.animate_codes(generator, config, searched, 16, jax.random.key(0)))


@jax.jit
def fit_first_state(codes, target):
  """Adam on h_1 alone (content and category fixed), keeping the last."""
  errors = lambda motion: encoding.pixel_errors(generator, config, codes | {"motion": motion},
                                                target).sum()
  tx = optax.adam(0.05)
  def step(carry, _):
    motion, state = carry
    updates, state = tx.update(jax.grad(errors)(motion), state)
    return (optax.apply_updates(motion, updates), state), None
  (motion, _), _ = jax.lax.scan(step, (codes["motion"], tx.init(codes["motion"])), None,
                                length=args.fit_steps)
  return codes | {"motion": motion}


if args.fit_steps:
  fitted = fit_first_state(searched, to_float(images[:, None]))
  report(f"search, h_1 fitted ({args.fit_steps})",
         encoding.animate_codes(generator, config, fitted, 16, jax.random.key(0)))

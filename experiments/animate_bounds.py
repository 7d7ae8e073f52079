"""What bounds `animate`'s colour on the shipped model: the numbers of
experiments/notes/inversion.md, "Animate: the image's own category, and
where its colour goes" that are not rows of animate_variants.py.

    .venv/bin/python experiments/animate_bounds.py      # about 3 min on 2 cores

Prints, as JSON lines:
- the generator's own videos (256, key 1): the median distance of each
  frame's shape colour from frame 1's, and the share whose colour over the
  video is within 30 (0..255) of frame 1's;
- the first frames of 64 held-out clips read as one-frame clips
  (encoding.read_codes, 100 and 1000 steps) and decoded under the category
  they picked: PSNR, and the share whose shape colour is within 30 of the
  image's, over all shape pixels and over the inner ones only
  (acd_parts.interior_colours);
- animate's colour kept on 256 held-out first frames (1000 steps, the image's
  own category) as read, with another image's content code, and with one
  drawn from the prior.
"""
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from acd_parts import interior_colours  # noqa: E402
from generator_colour import own_colour_drift  # noqa: E402
from mocogan_jax import video_io, workdir  # noqa: E402
from mocogan_jax.data import pipeline  # noqa: E402
from mocogan_jax.evaluation import metrics as M  # noqa: E402
from mocogan_jax.predictors import encoding  # noqa: E402

config, settings, enc, gen = workdir.load_encoders(None, params="shape_motion")
_, held_out, _ = pipeline.train_and_held_out(config)
clips, _ = pipeline.sample_clips(held_out, 256, 16, config.every_nth,
                                 [config.seed, pipeline.ClipStream.PREDICTION_TABLE])
within_30 = lambda a, b: np.linalg.norm(a - b, axis=-1) <= 30

drift, kept = own_colour_drift(config, gen)
print(json.dumps({"generator's own videos": {
    "median distance from frame 1, by frame": np.round(drift, 1).tolist(),
    "colour within 30 of frame 1's": kept}}))

images = clips[:64, :1]
for steps in (100, 1000):
  codes = encoding.read_codes(gen, enc, config, settings.content_from, images, steps)
  read = video_io.to_uint8(encoding.decode(gen, config, codes))
  psnr = M.psnr(read[:, 0].astype(np.float32) / 255, images[:, 0].astype(np.float32) / 255)
  print(json.dumps({f"frame 1 read, {steps} steps": {
      "psnr": float(np.mean(psnr)),
      "colour within 30": float(np.mean(within_30(M.shape_colours(read),
                                                  M.shape_colours(images))[:, 0])),
      "inner colour within 30": float(np.nanmean(within_30(interior_colours(read),
                                                           interior_colours(images))[:, 0]))}}))

frames = clips[:, 0]
codes = encoding.read_codes(gen, enc, config, settings.content_from, frames[:, None],
                            encoding.ANIMATE_INVERSION_STEPS)
image_colours = np.nanmean(M.shape_colours(frames[:, None]), axis=1)
for name, content in (("as read", codes["content"]),
                      ("another image's content", jnp.roll(codes["content"], 1, axis=0)),
                      ("content from the prior", jax.random.normal(jax.random.key(5),
                                                                   codes["content"].shape))):
  videos = video_io.to_uint8(encoding.animate_codes(gen, config, codes | {"content": content},
                                                    16, jax.random.key(0)))
  colours = np.nanmean(M.shape_colours(videos), axis=1)
  print(json.dumps({f"animate, {name}": {"colour kept": float(np.mean(
      within_30(colours, image_colours)))}}))

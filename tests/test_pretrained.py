"""The model shipped in the package: loadable by name, and still good.

Thresholds sit between what the shipped model measures (its model card,
mocogan_jax/pretrained/README.md) and what a broken one does: the untrained
generator paints a grey screen (low ACD, but no shape moves), a generator
whose colour follows time scores ACD 35-60 (experiments/RESULTS.md).
"""

import os

import jax
import numpy as np
import pytest

from mocogan_jax import cli, export, training, video_io
from mocogan_jax.evaluation import metrics
from mocogan_jax.models import mocogan

ACD_AT_MOST = 20.0  # the model card gives what the shipped model measures here
NUM, LENGTH = 128, 16


def _measure(config, variables):
  latents = mocogan.sample_latents(jax.random.key(0), config, NUM, LENGTH)
  videos = video_io.to_uint8(mocogan.generator(config).apply(variables, latents, train=False))
  colours = metrics.shape_colours(videos)
  moved = np.linalg.norm(metrics.shape_displacements(videos), axis=-1)
  return {"acd": float(np.nanmean(metrics.shape_colour_acd(videos))),
          "shown": float(np.mean(~np.isnan(colours).any(-1))),
          "moving": float(np.mean(moved > config.image_size / 4)),
          "direction": metrics.direction_agreement(metrics.shape_directions(videos),
                                                   np.asarray(latents["category"]))}


def test_shipped_shape_motion_model_keeps_colour_and_moves_by_category():
  config, variables, _ = export.load("shape_motion")
  m = _measure(config, variables)
  assert m["acd"] <= ACD_AT_MOST, m
  assert m["shown"] >= 0.95 and m["moving"] >= 0.8 and m["direction"] >= 0.9, m
  # The same checks fail an untrained generator of the same networks.
  untrained = training.create_train_state(config, jax.random.key(0)).generator.variables
  m = _measure(config, untrained)
  assert not (m["acd"] <= ACD_AT_MOST and m["shown"] >= 0.95 and m["moving"] >= 0.8
              and m["direction"] >= 0.9), m


def test_sample_by_name_and_a_wrong_name_is_one_line(tmp_path, capsys):
  out = str(tmp_path / "x.gif")
  cli.main(["sample", "--params", "shape_motion", "--out", out, "--num", "4"])
  assert os.path.getsize(out) > 0
  with pytest.raises(SystemExit) as e:
    cli.main(["sample", "--params", "shape_motoin", "--out", out])
  assert e.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert err == ["mocogan-jax sample: error: --params shape_motoin: no such file, and not a "
                 "shipped model (shape_motion)"], err

"""The model shipped in the package: loadable by name, and still good.

Thresholds sit between what the shipped model measures (its model card,
mocogan_jax/pretrained/README.md) and what a broken one does: the untrained
generator paints a grey screen (low ACD, but no shape moves), a generator
whose colour follows time scores ACD 35-60, a whitish one colour by content
4-15 (experiments/RESULTS.md).
"""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import FAST_COMPILE, create_train_state
from mocogan_jax import cli, export, video_io, workdir
from mocogan_jax.predictors import encoding, prediction
from mocogan_jax.data import shape_motion
from mocogan_jax.evaluation import metrics, shape_quality
from mocogan_jax.pixels import to_float

# Between what the shipped model measures (its model card,
# mocogan_jax/pretrained/README.md) and what a broken one does: here ACD 14.8,
# colour by content 51.5 and speckle 33.0 (the model shipped before it, without
# the total-variation term: 16.7, 43.5, 39.4; the whitish one before that:
# colour by content 5).
ACD_AT_MOST = 16.0
BY_CONTENT_AT_LEAST = 45.0
SPECKLE_AT_MOST = 36.0
# The 64x64 model is checked on the 8 frames it was trained on (half the
# time of 16): ACD 11.4 here (10.0-11.4 over five draws of 128); the 64x64
# attempts that did not ship scored 25.6 (shapes fading in and out) and colour
# by content 13 (grey shapes) on 16 (experiments/RESULTS.md, "64x64 in one
# sitting").
ACD_64_AT_MOST, LENGTH_64 = 13.0, 8
NUM, LENGTH = 128, 16
# Clips, images and pairs scored for the encoders' uses: each scored clip runs
# encoding.INVERSION_STEPS of inversion, most of the test's time.
SCORED = 16
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _passes(m: dict, acd_at_most: float = ACD_AT_MOST) -> bool:
  return (m["acd"] <= acd_at_most and m["by_content"] >= BY_CONTENT_AT_LEAST
          and m["speckle"] <= SPECKLE_AT_MOST and m["shown"] >= 0.95 and m["moving"] >= 0.8
          and m["direction"] >= 0.9)


def test_shipped_shape_motion_model_moves_by_category_in_colours_from_its_content_code():
  config, variables, _ = export.load("shape_motion")
  m = shape_quality.measure(config, variables, jax.random.key(0), NUM, LENGTH)
  assert _passes(m), m
  # The same checks fail an untrained generator of the same networks.
  untrained = create_train_state(config, jax.random.key(0)).generator.variables
  m = shape_quality.measure(config, untrained, jax.random.key(0), NUM, LENGTH)
  assert not _passes(m), m


def test_shipped_64x64_model_moves_by_category_in_colours_from_its_content_code():
  """The same checks on the 64x64 model, with an ACD threshold of its own."""
  config, variables, _ = export.load("shape_motion_64")
  assert config.image_size == 64
  m = shape_quality.measure(config, variables, jax.random.key(0), NUM, LENGTH_64)
  assert _passes(m, ACD_64_AT_MOST), m


def test_shipped_generator_draws_one_videos_content_with_anothers_motion():
  """Swapped codes inside the generator: video A's z_content with video B's
  category and motion keeps A's colour and moves as B (the model card:
  RESULTS' 34 of 35 pairs for the recipe)."""
  config, variables, _ = export.load("shape_motion")
  scores = shape_quality.generator_swap(config, variables, jax.random.key(2), 256, LENGTH)
  assert scores["pairs"] >= 30, scores
  assert scores["colour_of_a"] >= 0.9 and scores["direction_of_b"] >= 0.9, scores


def test_sample_by_name_and_a_wrong_name_is_one_line(tmp_path, capsys):
  out = str(tmp_path / "x.gif")
  cli.main(["sample", "--params", "shape_motion", "--out", out, "--num", "4"])
  assert os.path.getsize(out) > 0
  with pytest.raises(SystemExit) as e:
    cli.main(["sample", "--params", "shape_motoin", "--out", out])
  assert e.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert err == ["mocogan-jax sample: error: --params shape_motoin: no such file, and not a "
                 "shipped model (shape_motion, shape_motion_64)"], err


def _fresh_clips(config, num: int, seed: int = 1):
  """shape_motion videos drawn apart from the dataset (its builder draws from
  seed 0) as clips of the model's video_length frames at its every_nth:
  uint8 (N, T, S, S, 3), their motion labels (N,) and colours (N, 3)."""
  rng = np.random.default_rng(seed)
  drawn = [shape_motion.render_video(rng, config.image_size, 32) for _ in range(num)]
  span = (config.video_length - 1) * config.every_nth + 1
  return (np.stack([video[:span:config.every_nth] for video, *_ in drawn]),
          np.array([motion for _, _, motion, _ in drawn]), np.stack([c for *_, c in drawn]))


def encoder_scores() -> dict:
  """The shipped encoders' uses on freshly drawn clips, as the commands run
  them (the category picked, encoding.INVERSION_STEPS of inversion):
  prediction against both floors (N clips), animate (N images), transfer (N
  pairs whose colours and directions differ), N = SCORED."""
  config, settings, encoders, variables = workdir.load_encoders(None, params="shape_motion")
  clips, _, _ = _fresh_clips(config, SCORED)
  black = lambda context, length, key: jnp.concatenate(
      [to_float(context), -jnp.ones((context.shape[0], length - context.shape[1])
                                    + context.shape[2:])], axis=1)
  predictors = {"ours": prediction.mocogan_predictor(config, settings.content_from, encoders,
                                                     variables, "mean"),
                "copy_last": lambda context, length, key: prediction.copy_last(context, length),
                "all_black": black}
  scores = {"predict": {}}
  for name, predictor in predictors.items():
    got = prediction.score(predictor, clips, 4, jax.random.key(0))
    scores["predict"][name] = [float(got["psnr"].mean()), float(got["ssim"].mean())]
  clips, motions, colours = _fresh_clips(config, 5 * SCORED)
  scores["animate"] = encoding.score_animate(variables, encoders, config, settings.content_from,
                                             clips[:SCORED, 0], config.video_length,
                                             jax.random.key(0))
  chosen = np.flatnonzero(metrics.distinct_pairs(colours[0::2], colours[1::2], motions[0::2],
                                                 motions[1::2]))[:SCORED]
  a, b = clips[0::2][chosen], clips[1::2][chosen]
  moved = encoding.transfer(variables, encoders, config, settings.content_from, a, b)
  scores["transfer"] = metrics.transfer_scores(video_io.to_uint8(moved), colours[0::2][chosen],
                                               colours[1::2][chosen], motions[0::2][chosen],
                                               motions[1::2][chosen])
  return scores


def _scores_in_a_subprocess() -> dict:
  """encoder_scores() in a process with XLA's optimisations on: conftest turns
  them off for the many small programs of the suite, which makes the 100
  inversion steps 7-9 times slower. Level 1 runs them as fast as XLA's
  default (3) and compiles the three inversion programs in about 16 s instead
  of 25 (2 cores)."""
  env = dict(os.environ, XLA_FLAGS=os.environ.get("XLA_FLAGS", "").replace(
      FAST_COMPILE, "--xla_backend_optimization_level=1"))
  code = ("import json, sys; sys.path.insert(0, 'tests'); import test_pretrained; "
          "print(json.dumps(test_pretrained.encoder_scores()))")
  result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=900, cwd=ROOT)
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads(result.stdout.strip().splitlines()[-1])


def test_shipped_encoders_predict_animate_and_transfer_real_clips():
  """The three uses of the shipped encoders on fresh clips, computed once
  (encoder_scores), each checked below with its own reading."""
  scores = _scores_in_a_subprocess()
  _check_predict(scores)
  _check_animate(scores)
  _check_transfer(scores)


def _check_predict(scores):
  """K = 4 real frames, the next 12 predicted (the model card: 18.91 dB /
  0.701 against copy-last's 14.93 / 0.548 and the all-black frame's 16.51 /
  0.677 on 256 held-out clips); the encoders' codes alone fall below the
  all-black frame."""
  (psnr, ssim), predict = scores["predict"]["ours"], scores["predict"]
  for floor in ("copy_last", "all_black"):
    assert psnr > predict[floor][0] + 0.5 and ssim > predict[floor][1] + 0.005, predict


def _check_animate(scores):
  """Image-to-video from single frames, read with 1000 inversion steps.
  Under each image's own category (animate's default) frame 1 is the image
  (the model card: 29.0 dB on 256 held-out frames), most videos move its
  category's way (0.84) and over half keep its colour over all frames (0.62;
  a content code of another image or from the prior: 0.01). Under other
  categories each moves its category's way (0.90)."""
  own, cycled = scores["animate"]["own"], scores["animate"]["cycled"]
  assert own["psnr_first"] >= 25 and own["ssim_first"] >= 0.9, own
  assert own["direction_agreement"] >= 0.8 and own["colour_kept"] >= 0.4, own
  assert cycled["direction_agreement"] >= 0.8, cycled


def _check_transfer(scores):
  """Motion transfer of real pairs (A, B) whose directions and colours
  differ: the model card's 0.95 of A's colour and 0.94 of B's direction on
  82 held-out pairs, where chance is one in two for the colour and one in
  four for the direction among the other three. The direction needs the
  category picked by the decoded clips (the category encoder alone read it
  in 0.65 of pairs on the model shipped before), the colour the 100
  inversion steps (without them 0.80; experiments/notes/inversion.md,
  "Inversion")."""
  transfer = scores["transfer"]
  assert transfer["pairs"] == SCORED and transfer["direction_of_b"] >= 0.85, transfer
  assert transfer["direction_of_b"] > 2 * transfer["direction_of_a"], transfer
  assert transfer["colour_of_a"] >= 0.85, transfer

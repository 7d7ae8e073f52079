"""The model shipped in the package: loadable by name, and still good.

Thresholds sit between what the shipped model measures (its model card,
mocogan_jax/pretrained/README.md) and what a broken one does: the untrained
generator paints a grey screen (low ACD, but no shape moves), a generator
whose colour follows time scores ACD 35-60, a whitish one colour by content
4-15 (experiments/RESULTS.md).
"""

import os

import jax
import numpy as np
import pytest

from mocogan_jax import cli, encoding, export, prediction, training, video_io, workdir
from mocogan_jax.data import shape_motion
from mocogan_jax.evaluation import metrics, shape_quality

# Between what the shipped model measures (its model card,
# mocogan_jax/pretrained/README.md) and what a broken one does.
ACD_AT_MOST = 20.0
BY_CONTENT_AT_LEAST = 30.0  # the whitish generator shipped before: 5
NUM, LENGTH = 128, 16


def _passes(m: dict) -> bool:
  return (m["acd"] <= ACD_AT_MOST and m["by_content"] >= BY_CONTENT_AT_LEAST
          and m["shown"] >= 0.95 and m["moving"] >= 0.8 and m["direction"] >= 0.9)


def test_shipped_shape_motion_model_moves_by_category_in_colours_from_its_content_code():
  config, variables, _ = export.load("shape_motion")
  m = shape_quality.measure(config, variables, jax.random.key(0), NUM, LENGTH)
  assert _passes(m), m
  # The same checks fail an untrained generator of the same networks.
  untrained = training.create_train_state(config, jax.random.key(0)).generator.variables
  m = shape_quality.measure(config, untrained, jax.random.key(0), NUM, LENGTH)
  assert not _passes(m), m


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
                 "shipped model (shape_motion)"], err


def _fresh_clips(config, num: int, seed: int = 1):
  """shape_motion videos drawn apart from the dataset (its builder draws from
  seed 0) as clips of the model's video_length frames at its every_nth:
  uint8 (N, T, S, S, 3), their motion labels (N,) and colours (N, 3)."""
  rng = np.random.default_rng(seed)
  drawn = [shape_motion.render_video(rng, config.image_size, 32) for _ in range(num)]
  span = (config.video_length - 1) * config.every_nth + 1
  return (np.stack([video[:span:config.every_nth] for video, *_ in drawn]),
          np.array([motion for _, _, motion, _ in drawn]), np.stack([c for *_, c in drawn]))


def test_shipped_encoders_predict_better_than_copying_the_last_frame():
  """K = 4 real frames, the next 12 predicted (the model's 16-frame clips at
  every 2nd frame); the model card: 15.75 dB / 0.591 against copy-last's
  14.93 / 0.548 on 256 held-out clips."""
  config, settings, encoders, variables = workdir.load_encoders(None, params="shape_motion")
  clips, _, _ = _fresh_clips(config, 64)
  predictor = prediction.mocogan_predictor(config, settings.content_from, encoders, variables,
                                           "sample")
  ours = prediction.score(predictor, clips, 4, jax.random.key(0))
  floor = prediction.score(lambda context, length, key: prediction.copy_last(context, length),
                           clips, 4, jax.random.key(0))
  assert ours["psnr"].mean() > floor["psnr"].mean() + 0.5, (ours["psnr"], floor["psnr"])
  assert ours["ssim"].mean() > floor["ssim"].mean() + 0.03, (ours["ssim"], floor["ssim"])


def test_shipped_encoders_animate_an_image():
  """Image-to-video from single frames: videos of the asked length whose
  frame 1 is the image as the encoders read it, each category moving one way
  (the model card: 15.4 dB / 0.703, direction agreement 0.85 on 256
  held-out frames; where frame 1 puts the shape is the open part, RESULTS.md)."""
  config, settings, encoders, variables = workdir.load_encoders(None, params="shape_motion")
  clips, _, _ = _fresh_clips(config, 64)
  scores = encoding.score_animate(variables, encoders, config, settings.content_from,
                                  clips[:, 0], config.video_length, jax.random.key(0))
  assert scores["psnr_first"] >= 15 and scores["ssim_first"] >= 0.65, scores
  assert scores["direction_agreement"] >= 0.55, scores
  videos = encoding.animate(variables, encoders, config, settings.content_from, clips[:2, 0],
                            5, jax.random.key(0), np.array([0, 3]))
  assert videos.shape == (2, 5) + clips.shape[2:]


def test_shipped_encoders_transfer_real_clips_above_chance():
  """Motion transfer of real pairs (A, B) whose directions and colours
  differ: the model card's 0.84 of A's colour and 0.65 of B's direction on
  82 held-out pairs, well above chance (one in two for the colour, one in
  four for the direction among the other three); the content encoder's weak
  reading of z_content keeps them under the 90% the generator reaches with
  true codes (RESULTS.md, "Inversion")."""
  config, settings, encoders, variables = workdir.load_encoders(None, params="shape_motion")
  clips, motions, colours = _fresh_clips(config, 800)
  chosen = np.flatnonzero(metrics.distinct_pairs(colours[0::2], colours[1::2], motions[0::2],
                                                 motions[1::2]))[:200]
  a, b = clips[0::2][chosen], clips[1::2][chosen]
  moved = encoding.transfer(variables, encoders, config, settings.content_from, a, b)
  scores = metrics.transfer_scores(video_io.to_uint8(moved), colours[0::2][chosen],
                                   colours[1::2][chosen], motions[0::2][chosen],
                                   motions[1::2][chosen])
  assert scores["pairs"] == 200 and scores["direction_of_b"] >= 0.4, scores
  assert scores["direction_of_b"] > 2 * scores["direction_of_a"], scores
  assert scores["colour_of_a"] >= 0.7, scores

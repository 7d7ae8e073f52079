"""shape_motion and the input pipeline."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from mocogan_jax.errors import ConfigError
from mocogan_jax.data import pipeline, shape_motion

from conftest import tiny_config_with


def test_each_video_is_one_shape_of_one_colour_moving_in_its_labelled_direction():
  for i in range(40):
    rng = np.random.default_rng([0, 0, i])
    video, shape, motion, color = shape_motion.render_video(rng, 32, 32)
    assert video.shape == (32, 32, 32, 3) and video.dtype == np.uint8
    mask = video.any(axis=-1)
    assert mask.all(axis=(1, 2)).sum() == 0 and mask.any(axis=(1, 2)).all()
    np.testing.assert_array_equal(video[mask], np.broadcast_to(color, (mask.sum(), 3)))
    ys, xs = np.indices((32, 32))
    cx = np.array([xs[m].mean() for m in mask])
    cy = np.array([ys[m].mean() for m in mask])
    dx, dy = {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}[
        shape_motion.MOTIONS[motion]]
    moved_x, moved_y = cx[-1] - cx[0], cy[-1] - cy[0]
    assert np.sign(np.round(moved_x)) == dx and np.sign(np.round(moved_y)) == dy
    assert max(abs(moved_x), abs(moved_y)) > 10  # a clear, straight motion
    area = mask.sum(axis=(1, 2))
    assert area.max() - area.min() <= 0.25 * area.mean()  # a rigid shape, whole in frame
    assert shape in (0, 1)


def test_builder_is_deterministic(tmp_path):
  videos = []
  for name in ("a", "b"):
    builder = tfds.builder("shape_motion/tiny16", data_dir=str(tmp_path / name),
                           file_format="array_record")
    builder.download_and_prepare()
    source = builder.as_data_source(split="train")
    assert len(source) == 64
    videos.append(np.stack([source[i]["video"] for i in range(len(source))]))
  np.testing.assert_array_equal(videos[0], videos[1])
  assert videos[0].shape == (64, 16, 16, 16, 3)


def test_batches_are_a_function_of_the_step(tiny_config):
  source = pipeline.load_source(tiny_config)
  a = pipeline.make_batch(source, tiny_config, step=3)
  b = pipeline.make_batch(source, tiny_config, step=3)
  c = pipeline.make_batch(source, tiny_config, step=4)
  for k in a:
    np.testing.assert_array_equal(a[k], b[k])
  assert not np.array_equal(a["video"], c["video"])
  assert a["video"].shape == (2, 8, 16, 16, 3) and a["video"].dtype == np.uint8
  assert a["image"].shape == (4, 16, 16, 3) and a["image"].dtype == np.uint8
  assert a["label"].dtype == np.int32 and set(a["label"]) <= set(range(4))
  # Each process reads its own slice, and the slices make up the same global batch.
  halves = [pipeline.make_batch(source, tiny_config, step=3, video_rows=slice(p, p + 1),
                                image_rows=slice(2 * p, 2 * p + 2)) for p in (0, 1)]
  assert halves[0]["video"].shape[0] == 1 and halves[0]["image"].shape[0] == 2
  for k in a:
    np.testing.assert_array_equal(np.concatenate([h[k] for h in halves]), a[k])


def test_clips_take_every_nth_frame_of_one_video(data_dir):
  config = tiny_config_with(data_dir, every_nth=1, video_length=16, video_batch=1)
  source = pipeline.load_source(config)
  batch = pipeline.make_batch(source, config, step=0)
  clip = batch["video"][0]
  matches = [i for i in range(len(source)) if np.array_equal(source[i]["video"], clip)]
  assert len(matches) == 1  # 16-frame videos, so the whole video at stride 1
  assert batch["label"][0] == source[matches[0]]["motion"]


@pytest.mark.parametrize("overrides, message", [
    ({"image_size": 32}, "has 16x16 frames but image_size=32"),
    ({"video_length": 9}, "needs 17"),
    ({"dataset": "no_such_dataset"}, "not found"),
    ({"label_key": "weather"}, "label_key='weather'"),
    ({"n_categories": 3}, "4 motion classes but n_categories=3"),
])
def test_dataset_mismatches_are_clear_errors(data_dir, overrides, message):
  with pytest.raises(ConfigError, match=message):
    pipeline.load_source(tiny_config_with(data_dir, **overrides))


def test_device_batches_come_in_step_order_whatever_the_workers(tiny_config):
  from mocogan_jax import sharding
  source = pipeline.load_source(tiny_config)
  data_sharding = sharding.batch_sharding(sharding.make_mesh(tiny_config))
  for workers in (1, 3):
    batches = pipeline.device_batches(source, tiny_config.replace(data_workers=workers), 5,
                                      data_sharding)
    for step in range(5, 12):
      got, want = next(batches), pipeline.make_batch(source, tiny_config, step)
      for k in want:
        np.testing.assert_array_equal(np.asarray(got[k]), want[k], err_msg=f"{workers} {step}")
    batches.close()

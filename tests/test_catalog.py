"""TFDS catalog datasets mapped to the common form (data/catalog.py).

bair_robot_pushing_small goes through the real TFDS builder with
tfds.testing.mock_data (no download). moving_mnist's and ucf101's builders
need TensorFlow even when mocked, which the test environment does not have, so
their mapping is checked here on examples shaped like theirs, and through their
real builders by experiments/check_catalog_with_tensorflow.py in a venv with
TensorFlow.
"""

from unittest import mock

import numpy as np
import pytest
import tensorflow_datasets as tfds

from conftest import tiny_config_with
from mocogan_jax.errors import ConfigError
from mocogan_jax.data import catalog, pipeline


def test_bair_through_the_real_builder_with_mock_data(data_dir):
  config = tiny_config_with(data_dir, dataset="bair_robot_pushing_small", use_categories=False)
  with tfds.testing.mock_data(num_examples=6), \
       mock.patch.object(tfds.core.DatasetBuilder, "is_prepared", return_value=True):
    source = pipeline.load_source(config)
    assert len(source) == 6
    video = source[0]["video"]
    assert video.shape == (30, 16, 16, 3) and video.dtype == np.uint8  # 64x64 resized
    batch = pipeline.make_batch(source, config, step=0)
    assert batch["video"].shape == (2, 8, 16, 16, 3) and batch["image"].shape == (4, 16, 16, 3)
    with pytest.raises(ConfigError, match="has no labels; set use_categories=false"):
      pipeline.load_source(config.replace(use_categories=True))


class _Examples:
  def __init__(self, examples):
    self._examples = examples

  def __len__(self):
    return len(self._examples)

  def __getitem__(self, i):
    return self._examples[i]


def test_moving_mnist_frames_become_rgb_or_stay_gray():
  rng = np.random.default_rng(0)
  sequence = rng.integers(0, 256, (20, 64, 64, 1), dtype=np.uint8)
  entry = catalog.CATALOG["moving_mnist"]
  source = _Examples([{"image_sequence": sequence}])
  rgb = catalog.CatalogSource(source, entry, 64, 3, 15)[0]
  assert rgb["video"].shape == (20, 64, 64, 3) and "label" not in rgb
  np.testing.assert_array_equal(rgb["video"][..., 2], sequence[..., 0])
  gray = catalog.CatalogSource(source, entry, 64, 1, 15)[0]["video"]
  np.testing.assert_array_equal(gray, sequence)


def test_ucf101_is_resized_labelled_and_short_clips_padded():
  frame = np.zeros((256, 340, 3), np.uint8)
  frame[:, 170:] = (200, 100, 0)  # right half orange
  short = np.stack([frame] * 29)
  entry = catalog.CATALOG["ucf101"]
  out = catalog.CatalogSource(_Examples([{"video": short, "label": 17}]), entry, 64, 3, 31)[0]
  assert out["label"] == 17 and out["video"].shape == (31, 64, 64, 3)
  np.testing.assert_array_equal(out["video"][30], out["video"][28])  # padded with the last
  assert out["video"][0, 32, 2].tolist() == [0, 0, 0]  # centre crop keeps both halves
  assert out["video"][0, 32, 61].tolist() == [200, 100, 0]

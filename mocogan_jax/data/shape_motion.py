"""shape_motion: the MoCoGAN paper's synthetic shape-motion videos, built offline.

Each video shows one shape (circle or square) of a random colour on a black
background, moving along a straight line in one of four directions at constant
speed. Everything is drawn from a seed, so two builds are byte-identical.

Features (no TensorFlow needed to build or read):
  video:  uint8 (frames, S, S, 3), zlib-compressed
  shape:  ClassLabel circle | square
  motion: ClassLabel right | left | down | up
  color:  uint8 (3,), the shape's colour (ground truth for the ACD metric)

Configs: `shape_motion/64` (the paper's 64x64, 4000 train videos) and
`shape_motion/32` (the CPU demo's 32x32), both 32 frames and 256 test videos;
`shape_motion/tiny16` (16x16, 16 frames, 64 videos) for tests.
"""

import numpy as np
import tensorflow_datasets as tfds

SHAPES = ("circle", "square")
MOTIONS = ("right", "left", "down", "up")
_DIRECTIONS = {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}  # (dx, dy)


class ShapeMotionConfig(tfds.core.BuilderConfig):
  """resolution: frame side; num_frames: frames per video; seed: the whole draw."""

  def __init__(self, *, resolution: int, num_frames: int = 32, train_videos: int = 4000,
               test_videos: int = 256, seed: int = 0, **kwargs):
    super().__init__(**kwargs)
    self.resolution = resolution
    self.num_frames = num_frames
    self.train_videos = train_videos
    self.test_videos = test_videos
    self.seed = seed


def render_video(rng: np.random.Generator, resolution: int, num_frames: int):
  """Draws one video. Returns (video uint8 (F, S, S, 3), shape id, motion id, colour)."""
  s = resolution
  radius = s / 8  # half the side of the square / radius of the circle
  margin = s / 8  # jitter of the start position along the motion
  travel = s - 2 * radius - margin  # distance covered over the video
  shape = int(rng.integers(len(SHAPES)))
  motion = int(rng.integers(len(MOTIONS)))
  color = rng.integers(64, 256, size=3).astype(np.uint8)
  along = radius + rng.uniform(0, margin) + travel * np.linspace(0.0, 1.0, num_frames)
  across = np.full(num_frames, rng.uniform(radius, s - radius))
  dx, dy = _DIRECTIONS[MOTIONS[motion]]
  if dx:
    cx, cy = (along if dx > 0 else s - along), across
  else:
    cx, cy = across, (along if dy > 0 else s - along)
  centres = np.arange(s) + 0.5
  x = centres[None, None, :] - cx[:, None, None]  # (F, 1, S)
  y = centres[None, :, None] - cy[:, None, None]  # (F, S, 1)
  if SHAPES[shape] == "circle":
    mask = x ** 2 + y ** 2 <= radius ** 2
  else:
    mask = (np.abs(x) <= radius) & (np.abs(y) <= radius)
  video = mask[..., None] * color  # (F, S, S, 3)
  return video.astype(np.uint8), shape, motion, color


class ShapeMotion(tfds.core.GeneratorBasedBuilder):
  """The synthetic shape-motion dataset of MoCoGAN (Tulyakov et al. 2018)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Circles and squares, four directions, 32 frames."}
  BUILDER_CONFIGS = [
      ShapeMotionConfig(name="64", resolution=64, description="64x64, 4000 train videos"),
      ShapeMotionConfig(name="32", resolution=32, description="32x32, 4000 train videos"),
      ShapeMotionConfig(name="tiny16", resolution=16, num_frames=16, train_videos=64,
                        test_videos=16, description="16x16, 64 videos of 16 frames, for tests"),
  ]

  def _info(self):
    c = self.builder_config
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "video": tfds.features.Tensor(
                shape=(c.num_frames, c.resolution, c.resolution, 3), dtype=np.uint8,
                encoding=tfds.features.Encoding.ZLIB),
            "shape": tfds.features.ClassLabel(names=SHAPES),
            "motion": tfds.features.ClassLabel(names=MOTIONS),
            "color": tfds.features.Tensor(shape=(3,), dtype=np.uint8),
        }),
        homepage="https://arxiv.org/abs/1707.04993",
    )

  def _split_generators(self, dl_manager):
    c = self.builder_config
    return {
        "train": self._generate_examples(0, c.train_videos),
        "test": self._generate_examples(1, c.test_videos),
    }

  def _generate_examples(self, split_id: int, count: int):
    c = self.builder_config
    for i in range(count):
      # One generator per video: any video can be re-drawn alone, in any order.
      rng = np.random.default_rng([c.seed, split_id, i])
      video, shape, motion, color = render_video(rng, c.resolution, c.num_frames)
      yield i, {"video": video, "shape": shape, "motion": motion, "color": color}

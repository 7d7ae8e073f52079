"""The one conversion between stored pixels and network values: uint8 [0, 255]
<-> float32 [-1, 1]. NumPy in, NumPy out; JAX (also under jit) in, JAX out."""

import jax
import jax.numpy as jnp
import numpy as np


def to_float(pixels):
  """uint8 [0, 255] -> float32 [-1, 1], any shape. Done on the device in
  training: 4x fewer bytes in."""
  return pixels.astype(np.float32) / 127.5 - 1.0


def to_uint8(values):
  """float [-1, 1] -> uint8 [0, 255], clipped and rounded, any shape."""
  xp = jnp if isinstance(values, jax.Array) else np
  values = values if isinstance(values, jax.Array) else np.asarray(values, np.float32)
  return xp.round((xp.clip(values, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)

"""The frame-prediction baseline: a convolutional GRU encoder-decoder.

At each step the network reads one frame, updates a ConvGRU state at 1/4 of
the resolution and writes the next frame. It reads the real frame while t < K
(the context) and its own previous prediction after, in training as in use.

  encoder  Conv2d(k4, s2, p1) ndf -> LeakyReLU -> Conv2d(k4, s2, p1) 2 ndf -> LeakyReLU
  ConvGRU  3x3 gates over [input, state], `hidden` channels
  decoder  ConvT(k4, s2, p1) ndf -> ReLU -> ConvT(k4, s2, p1) C, linear

The output is linear and clipped to [-1, 1] where it is read back or used,
not a tanh: on a black background a tanh saturates at -1, and its vanishing
gradient held the network at all-black frames (experiments/RESULTS.md).
"""

import jax
import jax.numpy as jnp
from flax import linen as nn

from mocogan_jax.models.layers import Conv2d, ConvTranspose2d


class ConvGRUCell(nn.Module):
  hidden: int
  impl: str = "auto"

  @nn.compact
  def __call__(self, h, x):
    both = jnp.concatenate([x, h], axis=-1)
    gates = Conv2d(2 * self.hidden, 3, 1, 1, self.impl, name="gates")(both)
    gates = jax.nn.sigmoid(gates + self.param("gates_bias", nn.initializers.zeros,
                                              (2 * self.hidden,)))
    reset, update = jnp.split(gates, 2, axis=-1)
    candidate = Conv2d(self.hidden, 3, 1, 1, self.impl, name="candidate")(
        jnp.concatenate([x, reset * h], axis=-1))
    candidate = jnp.tanh(candidate + self.param("candidate_bias", nn.initializers.zeros,
                                                (self.hidden,)))
    return (1 - update) * h + update * candidate


class ConvRNNPredictor(nn.Module):
  """frames (N, T, S, S, C) in [-1, 1], the first `context` real -> (N, T - 1,
  S, S, C) predictions of frames 1 .. T-1 (unclipped)."""
  ndf: int
  channels: int
  hidden: int = 64
  conv_impl: str = "auto"

  def setup(self):
    self.encode1 = Conv2d(self.ndf, 4, 2, 1, self.conv_impl)
    self.encode2 = Conv2d(2 * self.ndf, 4, 2, 1, self.conv_impl)
    self.cell = ConvGRUCell(self.hidden, self.conv_impl)
    self.decode1 = ConvTranspose2d(self.ndf, 4, 2, 1, self.conv_impl)
    self.decode2 = ConvTranspose2d(self.channels, 4, 2, 1, self.conv_impl)

  def step(self, h, frame):
    x = nn.leaky_relu(self.encode1(frame), 0.2)
    x = nn.leaky_relu(self.encode2(x), 0.2)
    h = self.cell(h, x)
    return h, self.decode2(nn.relu(self.decode1(h)))

  def __call__(self, frames, context: int):
    n, t, s = frames.shape[:3]
    h = jnp.zeros((n, s // 4, s // 4, self.hidden), frames.dtype)
    predictions, frame = [], frames[:, 0]
    for i in range(t - 1):
      h, predicted = self.step(h, frame)
      predictions.append(predicted)
      frame = frames[:, i + 1] if i + 1 < context else jnp.clip(predicted, -1.0, 1.0)
    return jnp.stack(predictions, axis=1)

"""MoCoGAN's generator: a motion RNN and an image generator applied per frame.

Each frame's latent is [z_content (dc) | one-hot category (K) | z_motion_t (dm)].
z_content ~ N(0, I) once per video; the category is uniform and held for the
video; z_motion_t = h_t of a GRU started at h0 ~ N(0, I) and fed eps_t ~ N(0, I)
(h0 itself is dropped). All noise is drawn by `sample_latents` from an explicit
key, so any part of it can be fixed for disentanglement figures.
"""

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from mocogan_jax.models.layers import (Conv2d, ConvTranspose2d, SelfAttention, batch_norm,
                                      torch_uniform)


class MotionRNN(nn.Module):
  """torch.nn.GRUCell(dim, dim) unrolled over time (660 parameters at dim 10).

  h0 (N, d), eps (N, T, d) -> h_1..h_T (N, T, d).
  """
  dim: int

  @nn.compact
  def __call__(self, h0, eps):
    d = self.dim
    init = torch_uniform(d ** -0.5)
    # Gate order along the 3d axis is (reset, update, new), as in PyTorch.
    w_ih = self.param("w_ih", init, (d, 3 * d))
    w_hh = self.param("w_hh", init, (d, 3 * d))
    b_ih = self.param("b_ih", init, (3 * d,))
    b_hh = self.param("b_hh", init, (3 * d,))

    def step(h, e):
      gi = e @ w_ih + b_ih
      gh = h @ w_hh + b_hh
      r = jax.nn.sigmoid(gi[:, :d] + gh[:, :d])
      z = jax.nn.sigmoid(gi[:, d:2 * d] + gh[:, d:2 * d])
      n = jnp.tanh(gi[:, 2 * d:] + r * gh[:, 2 * d:])
      h = (1.0 - z) * n + z * h
      return h, h

    _, hs = jax.lax.scan(step, h0, jnp.swapaxes(eps, 0, 1))
    return jnp.swapaxes(hs, 0, 1)


class Modulation(nn.Module):
  """FiLM (Perez et al. 2018): x (M, H, W, C) * (1 + scale(code)) + shift(code),
  code (M, d). Both maps start at zero, so at initialisation it is the identity
  and the generator is the official one."""

  @nn.compact
  def __call__(self, x, code):
    c = x.shape[-1]
    scale_shift = nn.Dense(2 * c, kernel_init=nn.initializers.zeros)(code.astype(jnp.float32))
    scale, shift = jnp.split(scale_shift[:, None, None, :].astype(x.dtype), 2, axis=-1)
    return x * (1 + scale) + shift


class ImageGenerator(nn.Module):
  """DCGAN-style decoder, z (M, dim_z) -> images (M, S, S, C) in [-1, 1].

  ConvT(k4, s1, p0) to 4x4, then ConvT(k4, s2, p1) blocks with BN + ReLU that
  halve the channels (capped at 8 * ngf), then ConvT to C channels and tanh.
  At S = 64 this is exactly the official 66 -> 512 -> 256 -> 128 -> 64 -> 3.
  """
  ngf: int
  channels: int
  image_size: int
  conv_impl: str = "auto"
  dtype: Any = jnp.float32  # the convolutions' and activations'; the output is float32
  attention_resolution: int = 0  # > 0: a SelfAttention block on the features of this size
  modulation_dim: int = 0  # > 0: z[:, :modulation_dim] also scales and shifts every BN output
  output_blur: bool = False  # a fixed binomial blur before tanh (`binomial_blur`)
  # The last x2: "transpose" (ConvT k4 s2, official) | "resize" (nearest x2, Conv k3 s1).
  output_upsample: str = "transpose"

  @nn.compact
  def __call__(self, z, train: bool):
    n_up = int(math.log2(self.image_size)) - 2  # stride-2 layers after the 4x4 start
    width = lambda i: self.ngf * min(2 ** (n_up - 1 - i), 8)
    x = z[:, None, None, :]
    x = ConvTranspose2d(width(0), 4, 1, 0, self.conv_impl, self.dtype)(x)
    attend = lambda x: (SelfAttention(self.dtype)(x) if x.shape[1] == self.attention_resolution
                        else x)
    modulate = lambda x: (Modulation()(x, z[:, :self.modulation_dim]) if self.modulation_dim
                          else x)
    x = attend(nn.relu(modulate(batch_norm(train, self.dtype)(x))))
    for i in range(1, n_up):
      x = ConvTranspose2d(width(i), 4, 2, 1, self.conv_impl, self.dtype)(x)
      x = attend(nn.relu(modulate(batch_norm(train, self.dtype)(x))))
    if self.output_upsample == "resize":
      x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
      x = Conv2d(self.channels, 3, 1, 1, self.conv_impl, dtype=self.dtype)(x)
    else:
      x = ConvTranspose2d(self.channels, 4, 2, 1, self.conv_impl, self.dtype)(x)
    if self.output_blur:
      x = binomial_blur(x)
    return jnp.tanh(x).astype(jnp.float32)


def binomial_blur(x):
  """x (..., H, W, C) -> the same shape, each channel convolved with the 3x3
  binomial filter [1, 2, 1]^T [1, 2, 1] / 16, edges repeated. It zeroes the
  Nyquist frequency (a +-1 pattern on alternate pixels) and keeps a constant."""
  x = jnp.pad(x, ((0, 0),) * (x.ndim - 3) + ((1, 1), (1, 1), (0, 0)), mode="edge")
  x = (x[..., :-2, :, :] + 2 * x[..., 1:-1, :, :] + x[..., 2:, :, :]) / 4
  return (x[..., :-2, :] + 2 * x[..., 1:-1, :] + x[..., 2:, :]) / 4


class VideoGenerator(nn.Module):
  """The whole generator. Variables: {"params", "batch_stats"}."""
  dim_z_content: int
  n_categories: int
  dim_z_motion: int
  ngf: int
  channels: int
  image_size: int
  conv_impl: str = "auto"
  dtype: Any = jnp.float32  # the image generator's computation; the motion RNN stays float32
  attention_resolution: int = 0  # ImageGenerator's
  # z_content also modulates every BatchNorm output of the image generator (FiLM),
  # so that a per-video property (colour) has a path that bypasses the motion code.
  content_modulation: bool = False
  output_blur: bool = False  # ImageGenerator's
  output_upsample: str = "transpose"  # ImageGenerator's

  def setup(self):
    self.motion_rnn = MotionRNN(self.dim_z_motion)
    # z_content is the first dim_z_content entries of every frame's latent.
    self.image_generator = ImageGenerator(
        self.ngf, self.channels, self.image_size, self.conv_impl, self.dtype,
        self.attention_resolution, self.dim_z_content if self.content_modulation else 0,
        self.output_blur, self.output_upsample)

  def __call__(self, latents, train: bool):
    """latents from `sample_latents` (N videos, T frames) -> videos (N, T, S, S, C)."""
    z = self.frame_latents(latents)  # (N, T, dim_z)
    n, t = z.shape[:2]
    frames = self.image_generator(z.reshape(n * t, -1), train)
    return frames.reshape((n, t) + frames.shape[1:])

  def decode(self, content, category, motion, train: bool):
    """Frames from given codes instead of noise (the encoders' use):
    content (N, dc); category (N, K) one-hot or class probabilities (ignored
    when K = 0); motion (N, T, dm) motion states h_1..h_T -> (N, T, S, S, C)."""
    n, t = motion.shape[:2]
    parts = [jnp.broadcast_to(content[:, None], (n, t, self.dim_z_content))]
    if self.n_categories:
      parts.append(jnp.broadcast_to(category[:, None], (n, t, self.n_categories)))
    parts.append(motion)
    frames = self.image_generator(jnp.concatenate(parts, -1).reshape(n * t, -1), train)
    return frames.reshape((n, t) + frames.shape[1:])

  def continue_motion(self, h, eps):
    """The motion RNN run on from state h (N, dm) with inputs eps (N, T, dm) -> (N, T, dm)."""
    return self.motion_rnn(h, eps)

  def images(self, latents, frame_index, train: bool):
    """One frame per video, frame_index (N,) int -> images (N, S, S, C)."""
    z = self.frame_latents(latents)
    z = jnp.take_along_axis(z, frame_index[:, None, None], axis=1)[:, 0]
    return self.image_generator(z, train)

  def frame_latents(self, latents):
    """-> (N, T, dim_z) = [content | one-hot category | motion] per frame."""
    motion = self.motion_rnn(latents["h0"], latents["eps"])  # (N, T, dm)
    n, t = motion.shape[:2]
    parts = [jnp.broadcast_to(latents["content"][:, None], (n, t, self.dim_z_content))]
    if self.n_categories:
      one_hot = jax.nn.one_hot(latents["category"], self.n_categories, dtype=motion.dtype)
      parts.append(jnp.broadcast_to(one_hot[:, None], (n, t, self.n_categories)))
    parts.append(motion)
    return jnp.concatenate(parts, axis=-1)

"""MoCoGAN's image and video discriminators (official src/models.py, generalised).

All take inputs in [-1, 1], channels last, and return
(logits, category_logits): logits (N, ...) are real/fake logits, a map of them
for the patch variants; category_logits is (N, K) or None. LeakyReLU 0.2,
optional instance noise x + sigma * N(0, 1) before every conv but the last
(rng stream "noise").

norm (config.discriminator_norm):
- batch (official): no biases, BatchNorm on every block but the first.
- layer: LayerNorm over each example on every block but the first; biases.
- none: nothing but the convs, with biases.
- spectral: every kernel divided by its spectral norm; biases.
Without BatchNorm after them the convs need biases: a bias-free LeakyReLU
network is positively homogeneous, D(a x) = a D(x), so on a nearly constant
frame it can only say "darker is more real", never "this dark".
"""

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from mocogan_jax.models.layers import Conv, Conv2d, Conv3d, SelfAttention, batch_norm


class InstanceNoise(nn.Module):
  sigma: float

  @nn.compact
  def __call__(self, x):
    if self.sigma <= 0:
      return x
    # Drawn in float32 whatever x.dtype, so that bfloat16 runs see the same noise.
    return x + (self.sigma * jax.random.normal(self.make_rng("noise"), x.shape)).astype(x.dtype)


def _conv(conv, x, norm: str, train: bool):
  """Applies `conv`; with norm "spectral" its kernel is divided by its largest
  singular value (power iteration state in "batch_stats", advanced in training)."""
  return nn.SpectralNorm(conv)(x, update_stats=train) if norm == "spectral" else conv(x)


def _block(x, conv, norm: str, first: bool, sigma: float, train: bool):
  """Noise, conv, the normalisation (none on the first block), LeakyReLU."""
  x = _conv(conv, InstanceNoise(sigma)(x), norm, train)
  if norm == "batch" and not first:
    x = batch_norm(train, x.dtype)(x)
  elif norm == "layer" and not first:  # each example over all its positions and channels
    x = nn.LayerNorm(epsilon=1e-5, reduction_axes=tuple(range(1, x.ndim)), dtype=x.dtype)(x)
  return nn.leaky_relu(x, 0.2)


def _f32(logits):
  """Logits leave in float32, so the losses are computed in float32."""
  return logits.astype(jnp.float32)


def video_time_steps(video_length: int, image_size: int, patch: bool, time_padding: int) -> int:
  """Time extent of a video discriminator's output for a given time padding.

  Every conv has a 4-frame kernel and temporal stride 1. VideoDiscriminator
  has log2(S) - 2 padded blocks and a final unpadded conv;
  PatchVideoDiscriminator has four padded convs.
  """
  shrink = 3 - 2 * time_padding
  if patch:
    return video_length - 4 * shrink
  return video_length - (int(math.log2(image_size)) - 2) * shrink - 3


def video_time_padding(video_length: int, image_size: int, patch: bool) -> int:
  """Temporal padding of a video discriminator's convolutions.

  The official network pads nothing in time, which needs T >= 16 at 64x64 (one
  logit at T = 16, a logit per time window above). Shorter clips take the
  smallest padding, 1 or 2 frames, that leaves at least one output in time.
  """
  for padding in (0, 1):
    if video_time_steps(video_length, image_size, patch, padding) >= 1:
      return padding
  return 2


class _Discriminator(nn.Module):
  ndf: int = 64  # channels of the first conv
  norm: str = "batch"  # batch | layer | none | spectral (module docstring)
  noise_sigma: float = 0.0  # instance noise before every conv but the last
  conv_impl: str = "auto"  # models/layers.py
  # The convolutions' and activations' dtype; parameters and the returned
  # logits are float32.
  dtype: Any = jnp.float32
  # > 0: a SelfAttention block after the block whose output has this spatial
  # size (for video discriminators, over every frame and pixel of the clip).
  attention_resolution: int = 0

  def _attend(self, x):
    return SelfAttention(self.dtype)(x) if x.shape[-2] == self.attention_resolution else x


class PatchImageDiscriminator(_Discriminator):
  """images (N, S, S, C) -> (logits (N, S/16, S/16), None): four stride-2 convs
  ndf -> 2 ndf -> 4 ndf -> 1 (the official default)."""

  @nn.compact
  def __call__(self, x, train: bool):
    conv = functools.partial(Conv2d, impl=self.conv_impl, use_bias=self.norm != "batch",
                             dtype=self.dtype)
    for i, width in enumerate((self.ndf, 2 * self.ndf, 4 * self.ndf)):
      x = self._attend(_block(x, conv(width, 4, 2, 1), self.norm, i == 0, self.noise_sigma,
                              train))
    return _f32(_conv(conv(1, 4, 2, 1), x, self.norm, train)[..., 0]), None


class ImageDiscriminator(_Discriminator):
  """images (N, S, S, C) -> (logits (N, 1, 1), None): stride-2 blocks down to
  4x4 (64 -> ... -> 512 at S = 64, ndf 64), then k4 s1 p0 -> 1."""

  @nn.compact
  def __call__(self, x, train: bool):
    conv = functools.partial(Conv2d, impl=self.conv_impl, use_bias=self.norm != "batch",
                             dtype=self.dtype)
    for i in range(int(math.log2(x.shape[1])) - 2):
      x = self._attend(_block(x, conv(self.ndf * min(2 ** i, 8), 4, 2, 1), self.norm, i == 0,
                              self.noise_sigma, train))
    return _f32(_conv(conv(1, 4, 1, 0), x, self.norm, train)[..., 0]), None


class VideoDiscriminator(_Discriminator):
  """videos (N, T, S, S, C) -> (logits (N, T', 1, 1), category_logits (N, K) or
  None): Conv3d(k4, stride (1, 2, 2)) blocks down to 4x4 spatially (64 -> 128 ->
  256 -> 512 at S = 64, ndf 64), then Conv3d(k4, s1, p0) to 1 + K outputs.
  K = n_categories > 0 is the official CategoricalVideoDiscriminator; 0 its
  VideoDiscriminator. Official at T = 16 and 64x64: one output per video;
  longer clips give a map of real/fake logits over time and category logits
  averaged over it; shorter ones pad 1 or 2 frames in time
  (`video_time_padding`)."""
  n_categories: int = 0

  @nn.compact
  def __call__(self, x, train: bool):
    pt = video_time_padding(x.shape[1], x.shape[2], patch=False)
    conv = functools.partial(Conv3d, impl=self.conv_impl, use_bias=self.norm != "batch",
                             dtype=self.dtype)
    for i in range(int(math.log2(x.shape[2])) - 2):
      x = self._attend(_block(x, conv(self.ndf * min(2 ** i, 8), 4, 2, 1, pt), self.norm,
                              i == 0, self.noise_sigma, train))
    # (N, T', 1, 1, 1 + K)
    x = _f32(_conv(conv(1 + self.n_categories, 4, 1, 0, 0), x, self.norm, train))
    if not self.n_categories:
      return x[..., 0], None
    return x[..., 0], x[..., 1:].mean(axis=(1, 2, 3))


class PatchVideoDiscriminator(_Discriminator):
  """videos (N, T, S, S, C) -> (logits (N, T', S/16, S/16), None): three blocks
  (ndf -> 2 ndf -> 4 ndf), then Conv3d(k4, (1, 2, 2)) -> 1."""

  @nn.compact
  def __call__(self, x, train: bool):
    pt = video_time_padding(x.shape[1], x.shape[2], patch=True)
    conv = functools.partial(Conv3d, impl=self.conv_impl, use_bias=self.norm != "batch",
                             dtype=self.dtype)
    for i, width in enumerate((self.ndf, 2 * self.ndf, 4 * self.ndf)):
      x = self._attend(_block(x, conv(width, 4, 2, 1, pt), self.norm, i == 0, self.noise_sigma,
                              train))
    return _f32(_conv(conv(1, 4, 2, 1, pt), x, self.norm, train)[..., 0]), None


class StridedVideoDiscriminator(nn.Module):
  """VGAN's and TGAN's video discriminator: videos (N, T, S, S, C) -> logits
  (N,) with one_logit (VGAN), else (N, T / 2^n) (TGAN: a logit per frame left).

  n = log2(S) - 2 Conv3d(k4, s2, p1) blocks, stride 2 in time too, widths ndf,
  2 ndf, .. (capped at 8 ndf), LeakyReLU 0.2 and BatchNorm from the second
  block; then one conv over the (T / 2^n, 4, 4) that is left, all time at once
  (one_logit) or frame by frame. Every conv has a bias, as published.
  """
  ndf: int
  kernel_init: Any
  bn_epsilon: float
  bn_offset: bool  # TGAN's BatchNorm has no offset (beta)
  one_logit: bool
  conv_impl: str = "auto"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    conv = functools.partial(Conv, kernel_init=self.kernel_init, impl=self.conv_impl,
                             dtype=self.dtype)
    for i in range(int(math.log2(x.shape[2])) - 2):
      x = conv(self.ndf * min(2 ** i, 8), (4, 4, 4), (2, 2, 2), (1, 1, 1))(x)
      if i:
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=self.bn_epsilon,
                         use_bias=self.bn_offset, dtype=self.dtype)(x)
      x = nn.leaky_relu(x, 0.2)
    time = x.shape[1] if self.one_logit else 1
    logits = _f32(conv(1, (time, 4, 4), (1, 1, 1), (0, 0, 0))(x))  # (N, T', 1, 1, 1)
    return logits[:, 0, 0, 0, 0] if self.one_logit else logits[:, :, 0, 0, 0]

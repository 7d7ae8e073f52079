"""MoCoGAN's image and video discriminators (official src/models.py, generalised).

All take inputs in [-1, 1], channels last, and return
(logits, category_logits): logits (N, ...) are real/fake logits, a map of them
for the patch variants; category_logits is (N, K) or None. LeakyReLU 0.2, no
biases, BatchNorm on every block but the first, optional instance noise
x + sigma * N(0, 1) before every conv but the last (rng stream "noise").
"""

import math

import jax
from flax import linen as nn

from mocogan_jax.config import Config, video_time_padding
from mocogan_jax.models.layers import Conv2d, Conv3d, batch_norm


class InstanceNoise(nn.Module):
  sigma: float

  @nn.compact
  def __call__(self, x):
    if self.sigma <= 0:
      return x
    return x + self.sigma * jax.random.normal(self.make_rng("noise"), x.shape, x.dtype)


def _block(x, conv, use_bn: bool, sigma: float, train: bool):
  x = conv(InstanceNoise(sigma)(x))
  if use_bn:
    x = batch_norm(train)(x)
  return nn.leaky_relu(x, 0.2)


class ImageDiscriminator(nn.Module):
  """images (N, S, S, C) -> (logits, None).

  patch (default): four stride-2 convs 64 -> 128 -> 256 -> 1; an (S/16)^2 logit map.
  full: stride-2 blocks down to 4x4 (64 -> ... -> 512 at S = 64), then k4 s1 p0 -> 1.
  """
  config: Config

  @nn.compact
  def __call__(self, x, train: bool):
    c = self.config
    impl, sigma = c.conv_impl, c.noise_sigma
    bn = c.discriminator_norm == "batch"
    if c.image_discriminator == "patch":
      for i, width in enumerate((c.ndf, 2 * c.ndf, 4 * c.ndf)):
        x = _block(x, Conv2d(width, 4, 2, 1, impl), i > 0 and bn, sigma, train)
      x = Conv2d(1, 4, 2, 1, impl)(x)
    else:
      for i in range(int(math.log2(c.image_size)) - 2):
        x = _block(x, Conv2d(c.ndf * min(2 ** i, 8), 4, 2, 1, impl), i > 0 and bn, sigma, train)
      x = Conv2d(1, 4, 1, 0, impl)(x)
    return x[..., 0], None


class VideoDiscriminator(nn.Module):
  """videos (N, T, S, S, C) -> (logits, category_logits).

  categorical / plain: Conv3d(k4, stride (1, 2, 2)) blocks down to 4x4 spatially
  (64 -> 128 -> 256 -> 512 at S = 64), then Conv3d(k4, s1, p0) to 1 + K outputs
  (categorical) or 1. Official at T = 16 and 64x64: one output per video; longer
  clips give a map of real/fake logits over time and category logits averaged
  over it; shorter ones pad 1 or 2 frames in time (`video_time_padding`).
  patch: three blocks (64 -> 128 -> 256), then Conv3d(k4, (1, 2, 2)) -> 1.
  """
  config: Config

  @nn.compact
  def __call__(self, x, train: bool):
    c = self.config
    impl, sigma = c.conv_impl, c.noise_sigma
    bn = c.discriminator_norm == "batch"
    pt = video_time_padding(c)
    if c.video_discriminator == "patch":
      for i, width in enumerate((c.ndf, 2 * c.ndf, 4 * c.ndf)):
        x = _block(x, Conv3d(width, 4, 2, 1, pt, impl), i > 0 and bn, sigma, train)
      return Conv3d(1, 4, 2, 1, pt, impl)(x)[..., 0], None
    for i in range(int(math.log2(c.image_size)) - 2):
      x = _block(x, Conv3d(c.ndf * min(2 ** i, 8), 4, 2, 1, pt, impl), i > 0 and bn, sigma, train)
    n_categories = c.n_categories if c.video_discriminator == "categorical" else 0
    x = Conv3d(1 + n_categories, 4, 1, 0, 0, impl)(x)  # (N, T', 1, 1, 1 + K)
    logits = x[..., 0]
    if not n_categories:
      return logits, None
    return logits, x[..., 1:].mean(axis=(1, 2, 3))

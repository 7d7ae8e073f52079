"""MoCoGAN's image and video discriminators (official src/models.py, generalised).

All take inputs in [-1, 1], channels last, and return
(logits, category_logits): logits (N, ...) are real/fake logits, a map of them
for the patch variants; category_logits is (N, K) or None. LeakyReLU 0.2,
optional instance noise x + sigma * N(0, 1) before every conv but the last
(rng stream "noise").

config.discriminator_norm:
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


def _conv(conv, x, norm: str, train: bool):
  """Applies `conv`; with norm "spectral" its kernel is divided by its largest
  singular value (power iteration state in "batch_stats", advanced in training)."""
  return nn.SpectralNorm(conv)(x, update_stats=train) if norm == "spectral" else conv(x)


def _block(x, conv, norm: str, first: bool, sigma: float, train: bool):
  """Noise, conv, the normalisation (none on the first block), LeakyReLU."""
  x = _conv(conv, InstanceNoise(sigma)(x), norm, train)
  if norm == "batch" and not first:
    x = batch_norm(train)(x)
  elif norm == "layer" and not first:  # each example over all its positions and channels
    x = nn.LayerNorm(epsilon=1e-5, reduction_axes=tuple(range(1, x.ndim)))(x)
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
    norm = c.discriminator_norm
    conv = functools.partial(Conv2d, impl=c.conv_impl, use_bias=norm != "batch")
    if c.image_discriminator == "patch":
      for i, width in enumerate((c.ndf, 2 * c.ndf, 4 * c.ndf)):
        x = _block(x, conv(width, 4, 2, 1), norm, i == 0, c.noise_sigma, train)
      x = _conv(conv(1, 4, 2, 1), x, norm, train)
    else:
      for i in range(int(math.log2(c.image_size)) - 2):
        x = _block(x, conv(c.ndf * min(2 ** i, 8), 4, 2, 1), norm, i == 0, c.noise_sigma, train)
      x = _conv(conv(1, 4, 1, 0), x, norm, train)
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
    norm, pt = c.discriminator_norm, video_time_padding(c)
    conv = functools.partial(Conv3d, impl=c.conv_impl, use_bias=norm != "batch")
    if c.video_discriminator == "patch":
      for i, width in enumerate((c.ndf, 2 * c.ndf, 4 * c.ndf)):
        x = _block(x, conv(width, 4, 2, 1, pt), norm, i == 0, c.noise_sigma, train)
      return _conv(conv(1, 4, 2, 1, pt), x, norm, train)[..., 0], None
    for i in range(int(math.log2(c.image_size)) - 2):
      x = _block(x, conv(c.ndf * min(2 ** i, 8), 4, 2, 1, pt), norm, i == 0, c.noise_sigma,
                 train)
    n_categories = c.n_categories if c.video_discriminator == "categorical" else 0
    x = _conv(conv(1 + n_categories, 4, 1, 0, 0), x, norm, train)  # (N, T', 1, 1, 1 + K)
    logits = x[..., 0]
    if not n_categories:
      return logits, None
    return logits, x[..., 1:].mean(axis=(1, 2, 3))

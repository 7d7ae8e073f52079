"""VGAN (Vondrick, Pirsiavash and Torralba, NeurIPS 2016): a two-stream
generator and a 3D-convolutional discriminator, as the published Torch code
(cvondrick/videogan, main.lua) builds them, generalised to other sizes.

    state = create_train_state(config, key)
    state, metrics = train_step(state, batch, key)
    videos = sample_videos(sampling_variables(state), config, key, 16)

Generator, z (N, dz) ~ N(0, I):
- foreground: ConvTranspose3d from 1x1x1 to (T / 2^n, 4, 4) with 8 ngf
  channels, then n - 1 stride-2 blocks (BatchNorm, ReLU) halving the channels
  and doubling time and space, then two stride-2 heads: frames (tanh) and a
  mask (sigmoid); n = log2(S) - 2. At 64x64 and 32 frames: 100 -> 512 (2x4x4)
  -> 256 -> 128 -> 64 -> 3 and 1 (32x64x64), the published network.
- background: the same in 2D, one static image.
- video = mask * foreground + (1 - mask) * background.
Discriminator: discriminators.StridedVideoDiscriminator (4 stride-2 Conv3d at
64x64, BatchNorm eps 1e-3 from the second, then one conv over what is left) -> one logit.
Objective: the non-saturating GAN, plus lambda * mean(mask) (config
mask_l1_weight; 0.1 published) on the generator. Adam(2e-4, 0.5) for both.
Convolutions have biases and N(0, 0.01) weights, BatchNorm scales N(1, 0.02),
as published.
"""

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from mocogan_jax import gan, losses
from mocogan_jax.config import Config
from mocogan_jax.models.discriminators import StridedVideoDiscriminator
from mocogan_jax.models.layers import Conv
from mocogan_jax.pixels import to_float
from mocogan_jax.sharding import split_over_batch

WEIGHT_INIT = nn.initializers.normal(0.01)


def _scale_init(key, shape, dtype=jnp.float32):
  return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def _batch_norm(train: bool, dtype):
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=dtype,
                      scale_init=_scale_init)


class VganGenerator(nn.Module):
  """z (N, dz) -> videos (N, T, S, S, C) in [-1, 1]. Variables {"params", "batch_stats"}."""
  ngf: int
  channels: int
  image_size: int
  video_length: int
  conv_impl: str = "auto"
  dtype: Any = jnp.float32

  def __call__(self, z, train: bool):
    foreground, mask, background = self.streams(z, train)
    return mask * foreground + (1.0 - mask) * background[:, None]

  @nn.compact
  def streams(self, z, train: bool):
    """-> foreground (N, T, S, S, C) in [-1, 1], mask (N, T, S, S, 1) in [0, 1],
    background (N, S, S, C) in [-1, 1], all float32."""
    n_up = int(math.log2(self.image_size)) - 2
    width = lambda i: self.ngf * min(2 ** (n_up - 1 - i), 8)
    conv = functools.partial(Conv, kernel_init=WEIGHT_INIT, impl=self.conv_impl, dtype=self.dtype)
    up3, up2 = (4, 4, 4), (4, 4)
    block = lambda x, layer: nn.relu(_batch_norm(train, self.dtype)(layer(x)))

    video = z[:, None, None, None, :]
    video = block(video, conv(width(0), (self.video_length >> n_up, 4, 4), (1, 1, 1), (0, 0, 0),
                              transpose=True))
    image = z[:, None, None, :]
    image = block(image, conv(width(0), (4, 4), (1, 1), (0, 0), transpose=True))
    for i in range(1, n_up):
      video = block(video, conv(width(i), up3, (2, 2, 2), (1, 1, 1), transpose=True))
      image = block(image, conv(width(i), up2, (2, 2), (1, 1), transpose=True))
    foreground = jnp.tanh(conv(self.channels, up3, (2, 2, 2), (1, 1, 1), transpose=True)(video))
    mask = jax.nn.sigmoid(conv(1, up3, (2, 2, 2), (1, 1, 1), transpose=True)(video))
    background = jnp.tanh(conv(self.channels, up2, (2, 2), (1, 1), transpose=True)(image))
    return (foreground.astype(jnp.float32), mask.astype(jnp.float32),
            background.astype(jnp.float32))


def generator(config: Config) -> VganGenerator:
  return VganGenerator(config.ngf, config.channels, config.image_size, config.video_length,
                       config.conv_impl, jnp.dtype(config.dtype))


def discriminator(config: Config) -> StridedVideoDiscriminator:
  return StridedVideoDiscriminator(config.ndf, WEIGHT_INIT, bn_epsilon=1e-3, bn_offset=True,
                                   one_logit=True, conv_impl=config.conv_impl,
                                   dtype=jnp.dtype(config.dtype))


def frames_per_step(config: Config) -> int:
  """The frames the networks halve to one: 2^(log2(S) - 2)."""
  return config.image_size // 4


def config_problems(config: Config) -> list[str]:
  return gan.unconditional_problems(config, frames_per_step(config))


def sample_latents(key, config: Config, num_videos: int):
  """z (N, dim_z_content) ~ N(0, I), the one latent of a video."""
  return jax.random.normal(key, (num_videos, config.dim_z_content))


def create_train_state(config: Config, key) -> gan.VideoGanState:
  return gan.create_video_gan_state(config, key, generator(config), discriminator(config),
                                    gan.adam(config))


def _generate(config: Config, variables, key, num: int):
  """G in training mode -> (videos, mask, the updated batch_stats)."""
  z = split_over_batch(sample_latents(key, config, num))
  (foreground, mask, background), updated = generator(config).apply(
      gan.for_use(variables), z, train=True, method=VganGenerator.streams,
      mutable=["batch_stats"])
  return mask * foreground + (1.0 - mask) * background[:, None], mask, updated["batch_stats"]


def _discriminate(config: Config, variables, x):
  logits, updated = discriminator(config).apply(gan.for_use(variables), x, train=True,
                                                mutable=["batch_stats"])
  return logits, updated["batch_stats"]


def train_step(state: gan.VideoGanState, batch, key):
  """One VGAN iteration: D on real clips and new fakes, then G on new fakes
  (non-saturating) plus the mask's L1 term.

  batch: {"video": uint8 (B, T, S, S, C), ...}; the other entries are unused.
  Returns (new_state, metrics), as mocogan.train_step.
  """
  config, tx = state.config, gan.adam(state.config)
  real = to_float(batch["video"])
  g, d = state.generator, state.discriminator
  fake, _, g_stats = _generate(config, g.variables, gan.stream(key, "fakes"), config.video_batch)

  def d_loss(params):
    real_logits, stats = _discriminate(config, {"params": params, "batch_stats": d.batch_stats},
                                       real)
    fake_logits, stats = _discriminate(config, {"params": params, "batch_stats": stats},
                                       jax.lax.stop_gradient(fake))
    return losses.discriminator_loss(real_logits, fake_logits), (
        stats, jax.nn.sigmoid(real_logits).mean(), jax.nn.sigmoid(fake_logits).mean())

  (loss_d, (d_stats, p_real, p_fake)), grads = jax.value_and_grad(d_loss, has_aux=True)(d.params)
  d = gan.apply_gradients(d, grads, d_stats, tx)

  def g_loss(params):
    videos, mask, stats = _generate(config, {"params": params, "batch_stats": g_stats},
                                    gan.stream(key, "videos"), config.video_batch)
    logits, d_stats = _discriminate(config, d.variables, videos)
    sparsity = config.mask_l1_weight * mask.mean()
    return losses.generator_loss(logits) + sparsity, (stats, d_stats, sparsity, mask.mean())

  (loss_g, (g_stats, d_stats, sparsity, mask_mean)), grads = jax.value_and_grad(
      g_loss, has_aux=True)(g.params)
  g = gan.apply_gradients(g, grads, g_stats, tx)
  metrics = {"loss/generator": loss_g, "loss/video_discriminator": loss_d,
             "loss/mask_l1": sparsity, "mask/mean": mask_mean, "d_prob/video_real": p_real,
             "d_prob/video_fake": p_fake}
  return gan.finish_step(state, g, d.replace(batch_stats=d_stats), metrics)


# One program per (config, number, length): run op by op, the generator
# compiles and dispatches hundreds of small operations, seconds a call on a CPU.
@functools.partial(jax.jit, static_argnames=("config", "num_videos", "length"))
def sample_videos(generator_variables, config: Config, key, num_videos: int,
                  length: int | None = None, category=None):
  """Videos (N, T, S, S, C) in [-1, 1] from the generator in inference mode.
  VGAN draws exactly video_length frames and has no categories."""
  return gan.sample_fixed_length(generator(config), sample_latents(key, config, num_videos),
                                 generator_variables, config, length, category)


def model_info(config: Config) -> dict:
  return gan.video_gan_info(config, create_train_state, train_step) | {
      "latent": f"{config.dim_z_content} per video (z ~ N(0, I))",
      "discriminators": "one 3D-convolutional video discriminator"}

"""TGAN (Saito, Matsumoto and Saito, ICCV 2017): a temporal generator feeding
an image generator, trained as a WGAN with singular value clipping, as the
published Chainer code (pfnet-research/tgan, its "wgan_svd ... no-beta
init-uniform" configs) builds them, generalised to other sizes.

    state = create_train_state(config, key)
    state, metrics = train_step(state, batch, key)
    videos = sample_videos(sampling_variables(state), config, key, 16)

Generator, z0 (N, dim_z_content) ~ U(-1, 1):
- temporal: 1D ConvTranspose k1 to 8 ngf channels, then log2(T) stride-2
  ConvTransposes (4 ngf, 2 ngf, 2 ngf, ..) to z1 (N, T, dim_z_motion), tanh
  last, BatchNorm without offset and ReLU between. At ngf 64, T 16 and 100/100
  latents: 100 -> 512 -> 256 -> 128 -> 128 -> 100, the published network.
- image, on each frame: z0 and z1_t each through a bias-free Dense to
  4 ngf x 4 x 4 (BatchNorm, ReLU), concatenated, n = log2(S) - 2 stride-2
  ConvTransposes halving the channels (BatchNorm, ReLU), then a 3x3 one to C
  channels and tanh. At 64x64: 512 -> 256 -> 128 -> 64 -> 32 -> 3.
Discriminator: discriminators.StridedVideoDiscriminator, a logit per frame
left (BatchNorm without offset, eps 2e-5).
Objective: WGAN (losses.wasserstein_*), one update of G and then of D per
step, on the same fakes. Every SVC_EVERY steps, each of D's kernels (as an
O x (k*k*k*C) matrix) has its singular values clipped to at most 1 and each
BatchNorm scale to [0.01, 1] times its running standard deviation. RMSprop
(learning_rate 5e-5 published, decay 0.99) for all. Weights U(-0.01, 0.01).
"""

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from mocogan_jax import gan, losses
from mocogan_jax.config import Config
from mocogan_jax.models.discriminators import StridedVideoDiscriminator
from mocogan_jax.models.layers import Conv
from mocogan_jax.pixels import to_float
from mocogan_jax.sharding import split_over_batch

SVC_EVERY = 5  # as the published configs (updater freq)


def _uniform_init(key, shape, dtype=jnp.float32):
  return jax.random.uniform(key, shape, dtype, -0.01, 0.01)


def _batch_norm(train: bool, dtype, offset: bool = True):
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=2e-5,
                      use_bias=offset, dtype=dtype)


class TemporalGenerator(nn.Module):
  """z0 (N, d0) -> z1 (N, T, d1) in [-1, 1], T = 2^m."""
  ngf: int
  video_length: int
  dim_out: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z0, train: bool):
    conv = functools.partial(Conv, kernel_init=_uniform_init, transpose=True, dtype=self.dtype)
    block = lambda x, layer: nn.relu(_batch_norm(train, self.dtype, offset=False)(layer(x)))
    x = block(z0[:, None, :], conv(8 * self.ngf, (1,), (1,), (0,)))
    steps = int(math.log2(self.video_length))
    for i in range(1, steps):
      x = block(x, conv((4 if i == 1 else 2) * self.ngf, (4,), (2,), (1,)))
    return jnp.tanh(conv(self.dim_out, (4,), (2,), (1,))(x)).astype(jnp.float32)


class ImageGenerator(nn.Module):
  """z0 (M, d0), z1 (M, d1) -> images (M, S, S, C) in [-1, 1]."""
  ngf: int
  channels: int
  image_size: int
  conv_impl: str = "auto"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z0, z1, train: bool):
    width = 4 * self.ngf

    def project(z):
      h = nn.Dense(width * 16, use_bias=False, kernel_init=_uniform_init, dtype=self.dtype)(z)
      return nn.relu(_batch_norm(train, self.dtype)(h)).reshape(-1, 4, 4, width)

    x = jnp.concatenate([project(z0), project(z1)], axis=-1)
    conv = functools.partial(Conv, kernel_init=_uniform_init, transpose=True, impl=self.conv_impl,
                             dtype=self.dtype)
    for i in range(int(math.log2(self.image_size)) - 2):
      x = conv(8 * self.ngf >> (i + 1), (4, 4), (2, 2), (1, 1), use_bias=False)(x)
      x = nn.relu(_batch_norm(train, self.dtype)(x))
    return jnp.tanh(conv(self.channels, (3, 3), (1, 1), (1, 1))(x)).astype(jnp.float32)


class TganGenerator(nn.Module):
  """z0 (N, d0) -> videos (N, T, S, S, C). Variables {"params", "batch_stats"}."""
  ngf: int
  channels: int
  image_size: int
  video_length: int
  dim_z_fast: int
  conv_impl: str = "auto"
  dtype: Any = jnp.float32

  def setup(self):
    self.temporal = TemporalGenerator(self.ngf, self.video_length, self.dim_z_fast, self.dtype)
    self.image = ImageGenerator(self.ngf, self.channels, self.image_size, self.conv_impl,
                                self.dtype)

  def __call__(self, z0, train: bool):
    z1 = self.temporal(z0, train)  # (N, T, d1)
    n, t = z1.shape[:2]
    frames = self.image(jnp.repeat(z0, t, axis=0), z1.reshape(n * t, -1), train)
    return frames.reshape((n, t) + frames.shape[1:])


def generator(config: Config) -> TganGenerator:
  return TganGenerator(config.ngf, config.channels, config.image_size, config.video_length,
                       config.dim_z_motion, config.conv_impl, jnp.dtype(config.dtype))


def discriminator(config: Config) -> StridedVideoDiscriminator:
  return StridedVideoDiscriminator(config.ndf, _uniform_init, bn_epsilon=2e-5, bn_offset=False,
                                   one_logit=False, conv_impl=config.conv_impl,
                                   dtype=jnp.dtype(config.dtype))


def config_problems(config: Config) -> list[str]:
  found = gan.unconditional_problems(config, config.image_size // 4)
  if config.video_length & (config.video_length - 1):
    found.append(f"model=tgan's temporal generator doubles time from one step: "
                 f"video_length must be a power of 2, got {config.video_length}")
  return found


def optimizer(config: Config) -> optax.GradientTransformation:
  """Chainer's RMSprop (decay 0.99, eps outside the square root), with
  weight_decay as an L2 term in the gradient (0 published)."""
  return optax.chain(optax.add_decayed_weights(config.weight_decay),
                     optax.rmsprop(config.learning_rate, decay=0.99, eps=1e-8, eps_in_sqrt=False))


def sample_latents(key, config: Config, num_videos: int):
  """z0 (N, dim_z_content) ~ U(-1, 1), as published."""
  return jax.random.uniform(key, (num_videos, config.dim_z_content), minval=-1.0, maxval=1.0)


def create_train_state(config: Config, key) -> gan.VideoGanState:
  return gan.create_video_gan_state(config, key, generator(config), discriminator(config),
                                    optimizer(config))


def clip_singular_values(kernel):
  """A conv kernel (..., C_in, C_out) with the singular values of its
  (everything but C_out) x C_out matrix clipped to at most 1."""
  matrix = kernel.reshape(-1, kernel.shape[-1])
  u, s, vh = jnp.linalg.svd(matrix, full_matrices=False)
  return ((u * jnp.minimum(s, 1.0)) @ vh).reshape(kernel.shape)


def singular_value_clipping(variables):
  """TGAN's SVC on a discriminator's {"params", "batch_stats"}: every kernel
  clipped (`clip_singular_values`), every BatchNorm scale into [0.01, 1] x
  sqrt(its running variance). -> the clipped params."""
  def clip(params, stats):
    out = {}
    for name, value in params.items():
      if isinstance(value, dict) and "scale" in value:
        std = jnp.sqrt(stats[name]["var"])
        out[name] = value | {"scale": jnp.clip(value["scale"], 0.01 * std, std)}
      elif isinstance(value, dict):
        out[name] = clip(value, stats.get(name, {}))
      elif name == "kernel":
        out[name] = clip_singular_values(value)
      else:
        out[name] = value
    return out
  return clip(variables["params"], variables["batch_stats"])


def _discriminate(config: Config, variables, x):
  logits, updated = discriminator(config).apply(gan.for_use(variables), x, train=True,
                                                mutable=["batch_stats"])
  return logits, updated["batch_stats"]


def train_step(state: gan.VideoGanState, batch, key):
  """One TGAN iteration: G and D updated once each on the same fakes, then
  (every SVC_EVERY steps) D's singular values clipped.

  batch: {"video": uint8 (B, T, S, S, C), ...}; the other entries are unused.
  Returns (new_state, metrics), as mocogan.train_step.
  """
  config, tx = state.config, optimizer(state.config)
  real = to_float(batch["video"])
  g, d = state.generator, state.discriminator
  z0 = split_over_batch(sample_latents(gan.stream(key, "latents"), config, config.video_batch))

  def g_loss(params):
    fake, updated = generator(config).apply(
        gan.for_use({"params": params, "batch_stats": g.batch_stats}), z0, train=True,
        mutable=["batch_stats"])
    logits, _ = _discriminate(config, d.variables, fake)
    return losses.wasserstein_generator_loss(logits), (fake, updated["batch_stats"])

  (loss_g, (fake, g_stats)), grads = jax.value_and_grad(g_loss, has_aux=True)(g.params)
  g = gan.apply_gradients(g, grads, g_stats, tx)

  def d_loss(params):
    fake_logits, stats = _discriminate(config, {"params": params, "batch_stats": d.batch_stats},
                                       jax.lax.stop_gradient(fake))
    real_logits, stats = _discriminate(config, {"params": params, "batch_stats": stats}, real)
    return losses.wasserstein_critic_loss(real_logits, fake_logits), stats

  (loss_d, d_stats), grads = jax.value_and_grad(d_loss, has_aux=True)(d.params)
  d = gan.apply_gradients(d, grads, d_stats, tx)
  clipped = jax.lax.cond((state.step + 1) % SVC_EVERY == 0, singular_value_clipping,
                         lambda v: v["params"], d.variables)
  metrics = {"loss/generator": loss_g, "loss/video_discriminator": loss_d,
             "wasserstein_estimate": -loss_d}
  return gan.finish_step(state, g, d.replace(params=clipped), metrics)


# One program per (config, number, length): run op by op, the generator
# compiles and dispatches hundreds of small operations, seconds a call on a CPU.
@functools.partial(jax.jit, static_argnames=("config", "num_videos", "length"))
def sample_videos(generator_variables, config: Config, key, num_videos: int,
                  length: int | None = None, category=None):
  """Videos (N, T, S, S, C) in [-1, 1] from the generator in inference mode.
  TGAN draws exactly video_length frames and has no categories."""
  return gan.sample_fixed_length(generator(config), sample_latents(key, config, num_videos),
                                 generator_variables, config, length, category)


def model_info(config: Config) -> dict:
  info = gan.video_gan_info(config, create_train_state, train_step)
  temporal = jax.eval_shape(lambda key: create_train_state(config, key),
                            jax.random.key(0)).generator.params["temporal"]
  info["parameters"]["temporal_generator"] = gan.count_parameters(temporal)
  return info | {
      "latent": (f"z0 {config.dim_z_content} per video (U(-1, 1)), z1 {config.dim_z_motion} "
                 f"per frame from the temporal generator"),
      "discriminators": "one 3D-convolutional video discriminator, WGAN with SVC"}

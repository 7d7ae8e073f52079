"""Generating videos from a trained generator, with any part of the latent fixed."""

import jax
import jax.numpy as jnp

from mocogan_jax.config import Config
from mocogan_jax.models import mocogan

MODES = ("random", "fixed-content", "fixed-motion")
# The models whose generator is MoCoGAN's, so that sample_with_mode applies.
MOCOGAN_GENERATORS = ("mocogan", "conditional")


def sample_videos(generator_variables, config: Config, key, num_videos: int,
                  length: int | None = None, *, content=None, motion=None, category=None):
  """Videos from the generator in inference mode (BatchNorm running averages).

  generator_variables: {"params", "batch_stats"} of the generator.
  key: draws whatever is not given.
  content: (dim_z_content,) shared by all videos, or (N, dim_z_content).
  motion: (h0 (dim_z_motion,), eps (T, dim_z_motion)) shared by all videos: one
    trajectory of the motion RNN.
  category: an int for all videos, or (N,) ints.
  Returns float32 (N, T, S, S, C) in [-1, 1]. Any T works: the motion RNN unrolls.
  """
  n, t = num_videos, length or config.video_length
  latents = mocogan.sample_latents(key, config, n, t)
  if content is not None:
    latents["content"] = jnp.broadcast_to(content, latents["content"].shape)
  if motion is not None:
    h0, eps = motion
    latents["h0"] = jnp.broadcast_to(h0, latents["h0"].shape)
    latents["eps"] = jnp.broadcast_to(eps, latents["eps"].shape)
  if category is not None:
    latents["category"] = jnp.broadcast_to(jnp.asarray(category, jnp.int32), (n,))
  return mocogan.generator(config).apply(generator_variables, latents, train=False)


def sample_with_mode(generator_variables, config: Config, key, num_videos: int, length: int,
                     mode: str = "random", category=None):
  """The paper's disentanglement views. fixed-content: one content code, a
  different motion per video; fixed-motion: one motion trajectory, a different
  content per video."""
  if mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
  k_fixed, k_rest = jax.random.split(key)
  fixed = mocogan.sample_latents(k_fixed, config, 1, length)
  kwargs = {}
  if mode == "fixed-content":
    kwargs["content"] = fixed["content"][0]
  elif mode == "fixed-motion":
    kwargs["motion"] = (fixed["h0"][0], fixed["eps"][0])
  return sample_videos(generator_variables, config, k_rest, num_videos, length,
                       category=category, **kwargs)

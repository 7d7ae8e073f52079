"""MoCoGAN's networks as a Config selects them: the one place where config
fields become module settings, so that the modules themselves take only what
they use.

    g = mocogan.generator(config)
    videos = g.apply(variables, mocogan.sample_latents(key, config, 16, 32), train=False)
"""

import jax
import jax.numpy as jnp

from mocogan_jax.config import Config
from mocogan_jax.models import discriminators
from mocogan_jax.models.encoders import VideoEncoder
from mocogan_jax.models.generator import VideoGenerator

IMAGE_DISCRIMINATORS = {"patch": discriminators.PatchImageDiscriminator,
                        "full": discriminators.ImageDiscriminator}


def generator(config: Config) -> VideoGenerator:
  return VideoGenerator(config.dim_z_content, config.n_categories, config.dim_z_motion,
                        config.ngf, config.channels, config.image_size, config.conv_impl,
                        jnp.dtype(config.dtype), config.attention_resolution,
                        config.content_modulation, config.output_blur)


def _discriminator_settings(config: Config) -> dict:
  return {"ndf": config.ndf, "norm": config.discriminator_norm,
          "noise_sigma": config.noise_sigma, "conv_impl": config.conv_impl,
          "dtype": jnp.dtype(config.dtype), "attention_resolution": config.attention_resolution}


def image_discriminator(config: Config):
  """config.image_discriminator: patch (official) | full."""
  settings = _discriminator_settings(config)
  settings["norm"] = config.image_discriminator_norm or config.discriminator_norm
  return IMAGE_DISCRIMINATORS[config.image_discriminator](**settings)


def video_discriminator(config: Config):
  """config.video_discriminator: categorical (official: real/fake and the
  category) | plain (real/fake) | patch (a real/fake map)."""
  if config.video_discriminator == "patch":
    return discriminators.PatchVideoDiscriminator(**_discriminator_settings(config))
  n_categories = config.n_categories if config.video_discriminator == "categorical" else 0
  return discriminators.VideoDiscriminator(**_discriminator_settings(config),
                                           n_categories=n_categories)


def encoder(config: Config, content_from: str = "average") -> VideoEncoder:
  """The content and motion encoders of a run (encoding.py)."""
  return VideoEncoder(config.ndf, config.dim_z_content, config.dim_z_motion,
                      config.n_categories, content_from, config.conv_impl)


def sample_latents(key, config: Config, num_videos: int, length: int):
  """Draws every random input of the generator for `num_videos` videos.

  Returns {"content": (N, dc), "category": (N,) int32, "h0": (N, dm),
  "eps": (N, T, dm)}.
  """
  k_content, k_category, k_h0, k_eps = jax.random.split(key, 4)
  n, dm = num_videos, config.dim_z_motion
  return {
      "content": jax.random.normal(k_content, (n, config.dim_z_content)),
      "category": jax.random.randint(k_category, (n,), 0, max(config.n_categories, 1)),
      "h0": jax.random.normal(k_h0, (n, dm)),
      "eps": jax.random.normal(k_eps, (n, length, dm)),
  }

"""The encoders' objective, in one place: used by the joint GAN step
(mocogan.train_step with encoder_weight > 0) and by `train-encoder`
(encoding.encoder_train_step)."""

import jax
import jax.numpy as jnp

from mocogan_jax import losses
from mocogan_jax.models.encoders import VideoEncoder
from mocogan_jax.models.generator import VideoGenerator


def encoder_losses(encoder: VideoEncoder, encoder_variables, generator: VideoGenerator,
                   generator_variables, fake, latents, motion_states, real, real_labels,
                   train_generator: bool):
  """The encoders read generated videos back into the codes that made them
  (latent regression) and encode real clips for the generator to redraw (L1).

  fake (B, T, S, S, C) in [-1, 1]: the generator's videos from `latents`, whose
    motion RNN ran through motion_states (B, T, dm).
  real (M, T, S, S, C) in [-1, 1]; real_labels (M,) int, or None when the run
    has no categories to read.
  train_generator: the generator decodes in training mode (the joint GAN step,
    its BatchNorm statistics update) or in inference mode (a frozen generator).
  Both kinds of video go through the encoder in one pass, so its BatchNorm
  statistics see both.
  Returns (latent, reconstruction, decoded (M, T, S, S, C), errors {name:
  scalar}, encoder batch_stats, generator batch_stats).
  """
  b = fake.shape[0]
  codes, updated = encoder.apply(encoder_variables, jnp.concatenate([fake, real]), train=True,
                                 mutable=["batch_stats"])
  on_fake = jax.tree.map(lambda x: x[:b], codes)
  on_real = jax.tree.map(lambda x: x[b:], codes)
  latent, errors = losses.latent_regression(on_fake, latents, motion_states, on_real,
                                            real_labels)
  decode_args = (on_real["content"], on_real["category"], on_real["motion"])
  if train_generator:
    decoded, g_updated = generator.apply(generator_variables, *decode_args, train=True,
                                         method="decode", mutable=["batch_stats"])
    generator_stats = g_updated["batch_stats"]
  else:
    decoded = generator.apply(generator_variables, *decode_args, train=False, method="decode")
    generator_stats = generator_variables["batch_stats"]
  return (latent, losses.reconstruction(decoded, real), decoded, errors, updated["batch_stats"],
          generator_stats)

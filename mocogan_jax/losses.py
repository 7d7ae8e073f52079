"""The official trainer's losses (BCE with logits and cross-entropy, batch
means), the encoders' (latent regression, reconstruction), TGAN's
(Wasserstein), SVG's KL term, and the generator's total-variation term."""

import jax.numpy as jnp
import optax


def bce(logits, target: float):
  """Binary cross-entropy with logits against a constant target, averaged over
  every logit (patch maps included), as torch.nn.BCEWithLogitsLoss."""
  return optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, target)).mean()


def discriminator_loss(real_logits, fake_logits):
  """D learns real -> 1, fake -> 0."""
  return bce(real_logits, 1.0) + bce(fake_logits, 0.0)


def generator_loss(fake_logits):
  """The non-saturating generator loss: G wants D to call its fakes real."""
  return bce(fake_logits, 1.0)


def total_variation(frames):
  """frames (..., S, S, C) -> the mean absolute difference between
  neighbouring pixels, across rows and across columns (a scalar)."""
  across_rows = jnp.abs(jnp.diff(frames, axis=-3)).mean()
  across_columns = jnp.abs(jnp.diff(frames, axis=-2)).mean()
  return across_rows + across_columns


def excess_total_variation(fake, real):
  """How far the fakes' total variation exceeds the real batch's: 0 when the
  fakes vary from pixel to pixel no more than real frames do. The real
  frames are a constant here (no gradient flows into data)."""
  return jnp.maximum(total_variation(fake) - total_variation(real), 0.0)


def category_ce(category_logits, labels):
  """category_logits (N, K), labels (N,) int -> mean cross-entropy."""
  return optax.softmax_cross_entropy_with_integer_labels(category_logits, labels).mean()


def latent_regression(codes, latents, motion_states, real_codes=None, real_labels=None):
  """How well the encoders read videos back: codes (VideoEncoder's output on
  generated videos) against the latents that made them and the motion states
  h_t (N, T, dm) the generator's RNN ran through. Squared error of z_content
  and of every h_t, cross-entropy of the category when there are categories;
  with real_labels (M,), also the cross-entropy of real_codes' categories
  against them. Returns (loss, {name: error})."""
  content = jnp.mean((codes["content"] - latents["content"]) ** 2)
  motion = jnp.mean((codes["motion"] - motion_states) ** 2)
  errors = {"error/content": content, "error/motion": motion}
  if "category_logits" in codes:
    errors["error/category"] = category_ce(codes["category_logits"], latents["category"])
  if real_labels is not None:
    errors["error/category_real"] = category_ce(real_codes["category_logits"], real_labels)
  return sum(errors.values()), errors


def reconstruction(decoded, real):
  """L1 in pixels between decoded and real videos, both in [-1, 1]."""
  return jnp.mean(jnp.abs(decoded - real))


def wasserstein_critic_loss(real_logits, fake_logits):
  """The WGAN critic's loss, D(fake) - D(real): each example's logits (a map
  over time, for TGAN) summed, then the batch mean, as TGAN's updater."""
  per_example = lambda logits: logits.reshape(logits.shape[0], -1).sum(axis=1).mean()
  return per_example(fake_logits) - per_example(real_logits)


def wasserstein_generator_loss(fake_logits):
  """-D(fake), summed and averaged as wasserstein_critic_loss."""
  return -fake_logits.reshape(fake_logits.shape[0], -1).sum(axis=1).mean()


def gaussian_kl(mean_q, log_var_q, mean_p, log_var_p):
  """KL(N(mean_q, var_q) || N(mean_p, var_p)) of diagonal Gaussians, summed
  over the last axis: (..., d) -> (...)."""
  return 0.5 * jnp.sum(log_var_p - log_var_q
                       + (jnp.exp(log_var_q) + jnp.square(mean_q - mean_p)) / jnp.exp(log_var_p)
                       - 1.0, axis=-1)

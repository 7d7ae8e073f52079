"""The official trainer's losses: BCE with logits and cross-entropy, batch means."""

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


def category_ce(category_logits, labels):
  """category_logits (N, K), labels (N,) int -> mean cross-entropy."""
  return optax.softmax_cross_entropy_with_integer_labels(category_logits, labels).mean()

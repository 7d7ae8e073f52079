"""SVG-LP (Denton & Fergus 2018): a stochastic video predictor, a VAE whose
prior over each frame's latent is learnt from the frames before it.

Per predicted frame t = 1 .. T-1:
  g_{t-1}, skips = encoder(x_{t-1})           frame code (N, dim) in [-1, 1]
  posterior  q(z_t | x_1..x_t)    an LSTM over g_1..g_t (used in training)
  prior      p(z_t | x_1..x_t-1)  an LSTM over g_0..g_{t-1} (used to sample)
  predictor  two LSTM layers over [g_{t-1} | z_t] -> the code of x_t
  decoder    the code and the encoder's skips -> x_t in [-1, 1]
The skips come from the newest real frame, so past the context they stay
those of frame K-1: the background is copied, the LSTMs move the content.

Networks (DCGAN-like at any size, without the paper's BatchNorm so that the
state is parameters alone; biases instead): the encoder halves the image with
Conv(k4, s2, p1) blocks down to 4x4 (ndf, 2 ndf, .. capped at 8 ndf,
LeakyReLU 0.2), then Conv(k4, s1, p0) -> dim and tanh; the decoder mirrors
it with transposed convolutions, each block reading the skip of its size
concatenated to its input, and ends linear (predictions are clipped to
[-1, 1]).
"""

import math

import jax
import jax.numpy as jnp
from flax import linen as nn

from mocogan_jax.losses import gaussian_kl
from mocogan_jax.models.layers import Conv2d, ConvTranspose2d


def _width(ndf: int, i: int) -> int:
  return ndf * min(2 ** i, 8)


class Bias(nn.Module):
  """A learnt bias over the last axis (ConvTranspose2d has none)."""

  @nn.compact
  def __call__(self, x):
    return x + self.param("bias", nn.initializers.zeros, (x.shape[-1],))


class FrameEncoder(nn.Module):
  """frames (M, S, S, C) -> (codes (M, dim), skips [(M, S/2, S/2, ndf), ...,
  (M, 4, 4, .)])."""
  ndf: int
  dim: int
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x):
    skips = []
    for i in range(int(math.log2(x.shape[1])) - 2):
      x = nn.leaky_relu(Conv2d(_width(self.ndf, i), 4, 2, 1, self.conv_impl, use_bias=True)(x),
                        0.2)
      skips.append(x)
    code = Conv2d(self.dim, 4, 1, 0, self.conv_impl, use_bias=True)(x)
    return jnp.tanh(code[:, 0, 0]), skips


class FrameDecoder(nn.Module):
  """codes (M, dim) and the encoder's skips -> frames (M, S, S, C), about [-1, 1]."""
  ndf: int
  channels: int
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, code, skips):
    n = len(skips)
    x = ConvTranspose2d(_width(self.ndf, n - 1), 4, 1, 0, self.conv_impl)(code[:, None, None])
    x = nn.leaky_relu(Bias()(x), 0.2)  # (M, 4, 4, .)
    for i in reversed(range(n)):
      width = _width(self.ndf, i - 1) if i else self.channels
      x = ConvTranspose2d(width, 4, 2, 1, self.conv_impl)(jnp.concatenate([x, skips[i]], -1))
      x = Bias()(x)
      if i:
        x = nn.leaky_relu(x, 0.2)
    # Linear, not tanh: frames of a black background sit where a tanh
    # saturates, and its vanishing gradient held the model at all-black
    # predictions (experiments/RESULTS.md). SVG.generate clips to [-1, 1].
    return x


class GaussianLSTM(nn.Module):
  """Dense -> LSTM -> a diagonal Gaussian: (carry, x (N, d)) -> (carry, (mean,
  log-variance), each (N, latent))."""
  hidden: int
  latent: int

  @nn.compact
  def __call__(self, carry, x):
    carry, h = nn.LSTMCell(self.hidden)(carry, nn.Dense(self.hidden)(x))
    return carry, (nn.Dense(self.latent, name="mean")(h), nn.Dense(self.latent, name="log_var")(h))


class FramePredictor(nn.Module):
  """Dense -> two LSTM layers -> Dense -> tanh: (carries, x) -> (carries, code (N, dim))."""
  hidden: int
  dim: int

  @nn.compact
  def __call__(self, carries, x):
    h, new = nn.Dense(self.hidden)(x), []
    for i, carry in enumerate(carries):
      carry, h = nn.LSTMCell(self.hidden, name=f"lstm_{i}")(carry, h)
      new.append(carry)
    return tuple(new), jnp.tanh(nn.Dense(self.dim)(h))


def zero_carry(n: int, hidden: int):
  """An LSTM's (c, h), both zeros (N, hidden)."""
  return (jnp.zeros((n, hidden)), jnp.zeros((n, hidden)))


class SVG(nn.Module):
  """SVG-LP. Variables: {"params"}; randomness from the rng stream "latent"."""
  ndf: int
  channels: int
  hidden: int = 64  # the LSTMs' size and the frame code's
  latent: int = 10  # z_t's size
  conv_impl: str = "auto"

  def setup(self):
    self.encoder = FrameEncoder(self.ndf, self.hidden, self.conv_impl)
    self.decoder = FrameDecoder(self.ndf, self.channels, self.conv_impl)
    self.posterior = GaussianLSTM(self.hidden, self.latent)
    self.prior = GaussianLSTM(self.hidden, self.latent)
    self.predictor = FramePredictor(self.hidden, self.hidden)

  def _carries(self, n: int):
    return (zero_carry(n, self.hidden), zero_carry(n, self.hidden),
            (zero_carry(n, self.hidden), zero_carry(n, self.hidden)))

  def _encode(self, frames):
    """(N, T, S, S, C) -> codes (N, T, dim), skips [(N, T, ...), ...]."""
    n, t = frames.shape[:2]
    codes, skips = self.encoder(frames.reshape((n * t,) + frames.shape[2:]))
    unflat = lambda x: x.reshape((n, t) + x.shape[1:])
    return unflat(codes), [unflat(s) for s in skips]

  def __call__(self, frames, context: int):
    """Teacher-forced ELBO terms: frames (N, T, S, S, C) in [-1, 1] ->
    (predicted frames 1..T-1 (N, T-1, S, S, C), KL(q || p) (N, T-1)).
    z_t is drawn from the posterior; frame t's skips are frame min(t-1, K-1)'s."""
    n, t = frames.shape[:2]
    codes, skips = self._encode(frames)
    posterior, prior, predictor = self._carries(n)
    eps = jax.random.normal(self.make_rng("latent"), (n, t - 1, self.latent))
    predicted, kl = [], []
    for i in range(1, t):
      posterior, (mean_q, log_var_q) = self.posterior(posterior, codes[:, i])
      prior, (mean_p, log_var_p) = self.prior(prior, codes[:, i - 1])
      z = mean_q + jnp.exp(0.5 * log_var_q) * eps[:, i - 1]
      predictor, code = self.predictor(predictor, jnp.concatenate([codes[:, i - 1], z], -1))
      predicted.append(code)
      kl.append(gaussian_kl(mean_q, log_var_q, mean_p, log_var_p))
    source = jnp.minimum(jnp.arange(t - 1), context - 1)  # whose skips each prediction reads
    frames_out = self.decoder(
        jnp.stack(predicted, 1).reshape(n * (t - 1), -1),
        [s[:, source].reshape((n * (t - 1),) + s.shape[2:]) for s in skips])
    return frames_out.reshape((n, t - 1) + frames.shape[2:]), jnp.stack(kl, 1)

  def generate(self, context, length: int, mean: bool = False):
    """context (N, K, S, S, C) in [-1, 1] -> (N, length, S, S, C): the context
    as given, then frames predicted with z_t drawn from the prior. The LSTMs
    read the context with z_t from the posterior, as in training. With `mean`
    every z_t is its Gaussian's mean: no noise at all."""
    n, k = context.shape[:2]
    codes, skips = self._encode(context)
    last_skips = [s[:, k - 1] for s in skips]
    posterior, prior, predictor = self._carries(n)
    draw = lambda m, log_var: m if mean else m + jnp.exp(0.5 * log_var) * jax.random.normal(
        self.make_rng("latent"), m.shape)
    frames, code = [context[:, i] for i in range(k)], codes[:, 0]
    for i in range(1, length):
      prior, gaussian = self.prior(prior, code)
      if i < k:
        posterior, gaussian = self.posterior(posterior, codes[:, i])
        predictor, _ = self.predictor(predictor, jnp.concatenate([code, draw(*gaussian)], -1))
        code = codes[:, i]
        continue
      predictor, predicted = self.predictor(predictor,
                                            jnp.concatenate([code, draw(*gaussian)], -1))
      frame = jnp.clip(self.decoder(predicted, last_skips), -1.0, 1.0)
      frames.append(frame)
      code = self.encoder(frame)[0]
    return jnp.stack(frames, 1)


"""SVG-LP (models/svg.py through baseline.py): the KL term, the step's purity,
learning, stochastic prediction that keeps the context, and best-of-N scoring."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mocogan_jax import losses
from mocogan_jax.predictors import baseline, prediction
from mocogan_jax.data import pipeline
from mocogan_jax.models.svg import SVG
from mocogan_jax.pixels import to_float

from conftest import step_twice_and_check_purity


def _settings(**overrides):
  return baseline.BaselineSettings(**{"model": "svg", "context": 2, "length": 6, "hidden": 16,
                                      "batch": 4, "loss": "l2"} | overrides).check()


def test_gaussian_kl():
  mean, log_var = jnp.array([[0.3, -1.0]]), jnp.array([[0.2, -0.5]])
  assert float(losses.gaussian_kl(mean, log_var, mean, log_var)[0]) == 0.0
  # KL(N(0, 1) || N(1, 1)) = 1/2; KL(N(0, 1) || N(0, e^2)) = 1 - 1/2 + e^-2 / 2 - 1/2.
  zero, one = jnp.zeros((1, 1)), jnp.ones((1, 1))
  np.testing.assert_allclose(losses.gaussian_kl(zero, zero, one, zero), [0.5], rtol=1e-6)
  np.testing.assert_allclose(losses.gaussian_kl(zero, zero, zero, 2 * one),
                             [0.5 * (2 + np.exp(-2.0) - 1)], rtol=1e-6)


def test_the_elbo_kl_term_is_zero_when_the_posterior_equals_the_prior(tiny_config):
  # On a still clip the posterior reads frames 1..T-1 and the prior frames
  # 0..T-2: the same codes. With the prior's weights set to the posterior's
  # the two Gaussians are equal at every step and the KL term is 0.
  settings = _settings()
  state = baseline.create_baseline_state(tiny_config, settings, jax.random.key(0))
  params = dict(state.params)
  s = tiny_config.image_size
  still = jnp.broadcast_to(jax.random.uniform(jax.random.key(1), (2, 1, s, s, 3), minval=-1),
                           (2, 6, s, s, 3))
  model = SVG(tiny_config.ndf, tiny_config.channels, settings.hidden, settings.latent)
  kl = lambda p: model.apply({"params": p}, still, 2, rngs={"latent": jax.random.key(2)})[1]
  assert float(kl(params).min()) > 0  # different weights: different Gaussians
  params["prior"] = params["posterior"]
  assert kl(params).shape == (2, 5)
  np.testing.assert_allclose(kl(params), 0.0, atol=1e-6)


def test_step_is_pure_and_deterministic_and_learns(tiny_config):
  settings = _settings(learning_rate=3e-3)
  state = baseline.create_baseline_state(tiny_config, settings, jax.random.key(0))
  clips, _ = pipeline.sample_clips(pipeline.load_source(tiny_config), 4, 6, 2, 0)
  batch = {"video": clips}
  step = jax.jit(baseline.baseline_train_step)
  s1, m1 = step_twice_and_check_purity(step, state, batch, jax.random.key(7))
  assert {"loss", "kl", "l1/future"} <= m1.keys()
  m1 = jax.device_get(m1)
  frames = to_float(clips)
  model = SVG(tiny_config.ndf, tiny_config.channels, settings.hidden, settings.latent)
  predicted, kl = model.apply({"params": state.params}, frames, 2,
                              rngs={"latent": jax.random.key(7)})
  np.testing.assert_allclose(
      m1["loss"], np.mean(np.square(predicted - frames[:, 1:])) + 1e-4 * kl.sum(1).mean(),
      rtol=1e-5)
  changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), state.params, s1.params)
  assert all(jax.tree.leaves(changed))
  other, _ = step(state, batch, jax.random.key(8))  # the key draws z: another step
  assert not np.array_equal(other.params["decoder"]["Bias_0"]["bias"],
                            s1.params["decoder"]["Bias_0"]["bias"])
  losses_ = []
  for i in range(80):
    state, metrics = step(state, batch, jax.random.key(i))
    losses_.append(float(metrics["loss"]))
  assert np.mean(losses_[-5:]) < 0.5 * np.mean(losses_[:5]), losses_[::10]


@pytest.mark.parametrize("length", [6, 9])
def test_prediction_keeps_the_context_and_draws_from_the_prior(tiny_config, length):
  settings = _settings()
  state = baseline.create_baseline_state(tiny_config, settings, jax.random.key(0))
  s = tiny_config.image_size
  context = np.random.default_rng(0).integers(0, 256, (3, 3, s, s, 3), dtype=np.uint8)
  predict = jax.jit(baseline.predict, static_argnums=(1, 2, 4, 6))
  a = predict(state.params, tiny_config, settings, context, length, jax.random.key(1))
  b = predict(state.params, tiny_config, settings, context, length, jax.random.key(2))
  assert a.shape == (3, length, s, s, 3)
  np.testing.assert_allclose(a[:, :3], to_float(context), atol=1e-6)  # jit rounds /127.5
  assert np.all(np.abs(a) <= 1)
  assert not np.allclose(a[:, 3:], b[:, 3:], atol=1e-4)  # stochastic
  m1, m2 = (predict(state.params, tiny_config, settings, context, length, jax.random.key(k),
                    "mean") for k in (1, 2))
  np.testing.assert_array_equal(m1, m2)  # the prior's mean: no noise in the future


def test_best_of_n_keeps_each_clips_best_draw():
  rng = np.random.default_rng(0)
  clips = rng.integers(0, 256, (5, 6, 16, 16, 1), dtype=np.uint8)

  def noisy_truth(context, length, key):
    # The true clip plus noise of a random size per clip: some draws are better.
    truth = to_float(clips[:len(context), :length])
    scale = jax.random.uniform(key, (len(context), 1, 1, 1, 1), maxval=0.5)
    return truth + scale * jax.random.normal(jax.random.fold_in(key, 1), truth.shape)

  one = prediction.score(noisy_truth, clips, 2, jax.random.key(0), batch=5)
  best = prediction.score(noisy_truth, clips, 2, jax.random.key(0), batch=5, samples=6)
  assert one["ssim"].shape == one["psnr"].shape == one["mse"].shape == (4,)
  assert best["videos"].shape == clips.shape
  assert best["ssim"].mean() > one["ssim"].mean() + 0.01
  assert best["mse"].mean() < one["mse"].mean()
  # Per-frame MSE: the squared error summed over a frame's pixels in [0, 1].
  copied = prediction.score(lambda c, t, k: prediction.copy_last(c, t), clips, 2,
                            jax.random.key(0))
  expected = np.square(clips[:, 2:] / 255 - clips[:, 1:2] / 255).sum(axis=(2, 3, 4)).mean(0)
  np.testing.assert_allclose(copied["mse"], expected, rtol=1e-4)

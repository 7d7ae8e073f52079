"""train_step: purity, determinism, and learning (a broken objective must fail)."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mocogan_jax import losses, pixels
from mocogan_jax.models import mocogan
from mocogan_jax.data import pipeline
from mocogan_jax.models.mocogan import sample_videos, sample_with_mode

from conftest import create_train_state, step_twice_and_check_purity


def test_run_settings_change_no_compiled_program(tiny_config):
  """Every field of config.RUN_FIELDS set to another value leaves the train
  step's and the sampler's programs as they are: so the state may carry
  program_config (those fields at their defaults), and runs that differ only
  in them share compiled programs (registry.jit_train_step)."""
  from mocogan_jax import config as config_lib
  changed = {}
  for name in config_lib.RUN_FIELDS:
    value = getattr(tiny_config, name)
    changed[name] = value + "x" if isinstance(value, str) else value + 1
  run = tiny_config.replace(**changed)
  program = config_lib.program_config(run)
  assert program == config_lib.program_config(tiny_config) != run
  source = pipeline.load_source(tiny_config)
  batch = pipeline.make_batch(source, tiny_config, step=0)

  def programs(config):
    state = jax.eval_shape(lambda k: mocogan.create_train_state(config, k), jax.random.key(0))
    step = jax.jit(mocogan.train_step).lower(state, batch, jax.random.key(0)).as_text()
    sample = jax.jit(sample_videos, static_argnums=(1, 3)).lower(
        state.generator.variables, config, jax.random.key(0), 2).as_text()
    return step, sample

  assert programs(run) == programs(program)


@pytest.mark.accelerator  # also run on the GPU by experiments/accelerator_check.sh
def test_state_is_one_pytree_and_step_is_pure_and_deterministic(tiny_config):
  state = create_train_state(tiny_config, jax.random.key(0))
  leaves = jax.tree.leaves(state)
  assert all(isinstance(x, jax.Array) for x in leaves)
  source = pipeline.load_source(tiny_config)
  batch = pipeline.make_batch(source, tiny_config, step=0)
  step = jax.jit(mocogan.train_step)
  s1, m1 = step_twice_and_check_purity(step, state, batch, jax.random.key(7))
  assert int(s1.step) == 1
  # Every network changed, and metrics are finite scalars.
  for name in ("generator", "image_discriminator", "video_discriminator"):
    changed = jax.tree.map(lambda a, b: not np.array_equal(a, b),
                           getattr(state, name).params, getattr(s1, name).params)
    assert all(jax.tree.leaves(changed)), name
  assert all(np.isfinite(v) and np.shape(v) == () for v in jax.device_get(m1).values())
  # A different key gives a different step.
  s3, _ = step(state, batch, jax.random.key(8))
  assert not np.array_equal(s3.generator.params["motion_rnn"]["w_ih"],
                            s1.generator.params["motion_rnn"]["w_ih"])
  # Usable inside a caller's own jit and loop (one step in the loop's body:
  # two steps written out would compile twice the program).
  @jax.jit
  def two_steps(state, batch, key):
    return jax.lax.fori_loop(0, 2, lambda i, s: mocogan.train_step(s, batch, key)[0], state)
  assert int(two_steps(state, batch, jax.random.key(7)).step) == 2


def _mean_image_distance(state, config, real_mean):
  """Mean |E[generated frame] - E[real frame]| over pixels, both in [-1, 1]."""
  videos = np.asarray(sample_videos(state.generator.variables, config, jax.random.key(123), 32))
  return float(np.abs(videos.reshape((-1,) + videos.shape[2:]).mean(0) - real_mean).mean())


def _train_and_measure(config, steps=100):
  # A high learning rate so that 100 tiny steps (a few seconds) show the trend:
  # the untrained generator paints grey; the data is black with one small shape.
  config = config.replace(learning_rate=1e-3)
  source = pipeline.load_source(config)
  real = np.concatenate([source[i]["video"] for i in range(len(source))])
  real_mean = (real.astype(np.float32) / 127.5 - 1.0).mean(0)
  state = create_train_state(config, jax.random.key(0))
  before = _mean_image_distance(state, config, real_mean)
  step = jax.jit(mocogan.train_step, donate_argnums=0)
  for i in range(steps):
    state, _ = step(state, pipeline.make_batch(source, config, i), jax.random.key(i))
  return before, _mean_image_distance(state, config, real_mean)


def test_generated_frames_move_toward_the_data(tiny_config):
  # Measured: 0.93 -> 0.48 after 100 steps (0.22 after 200).
  before, after = _train_and_measure(tiny_config)
  assert after < 0.6 * before, (before, after)


def test_a_generator_loss_with_the_wrong_sign_does_not_learn(tiny_config, monkeypatch):
  # The same measurement must catch a sign error in the generator's objective
  # (measured: 0.93 -> 1.12).
  monkeypatch.setattr(losses, "generator_loss", lambda logits: -losses.bce(logits, 1.0))
  # jit caches traces per function and static config: retrace with the patched
  # loss, and do not leave that trace behind for other tests.
  jax.clear_caches()
  try:
    before, after = _train_and_measure(tiny_config)
  finally:
    jax.clear_caches()
  assert after > before, (before, after)


def test_encoders_trained_with_the_gan(tiny_config):
  config = tiny_config.replace(encoder_weight=1.0)
  state = create_train_state(config, jax.random.key(0))
  official = jax.eval_shape(lambda k: mocogan.create_train_state(tiny_config, k),
                            jax.random.key(0))
  assert official.encoder is None
  source = pipeline.load_source(config)
  step = jax.jit(mocogan.train_step)
  batch = pipeline.make_batch(source, config, 0)
  s1, metrics = step(state, batch, jax.random.key(1))
  changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), state.encoder.params,
                         s1.encoder.params)
  assert all(jax.tree.leaves(changed))
  # The encoders' losses reach G: the same step without them moves G elsewhere.
  alone, _ = step(state.replace(config=tiny_config, encoder=None), batch, jax.random.key(1))
  assert not np.allclose(alone.generator.params["motion_rnn"]["w_ih"],
                         s1.generator.params["motion_rnn"]["w_ih"])
  assert {"loss/encoder_latent", "loss/encoder_reconstruction", "encoder/error/content",
          "encoder/error/motion", "encoder/error/category_real"} <= set(metrics)
  # Reading the generator's motion states back gets easier as both train
  # (measured: from 0.36 over the first 5 steps to 0.20 over steps 21-30; one
  # step's error is noisy, so means are compared).
  errors = [float(metrics["encoder/error/motion"])]
  for i in range(30):
    s1, metrics = step(s1, pipeline.make_batch(source, config, i + 1), jax.random.key(i + 2))
    errors.append(float(metrics["encoder/error/motion"]))
  assert np.mean(errors[-10:]) < 0.7 * np.mean(errors[:5]), errors


def test_sampling_modes_fix_what_they_say(tiny_config):
  state = create_train_state(tiny_config, jax.random.key(0))
  variables = state.generator.variables
  key = jax.random.key(5)
  for length in (3, 8, 20):
    videos = sample_videos(variables, tiny_config, key, 2, length)
    chex.assert_shape(videos, (2, length, 16, 16, 3))
    chex.assert_type(videos, jnp.float32)
  # Each mode still varies the other factor, so its videos differ; fixing every
  # factor at once gives identical videos.
  a = sample_with_mode(variables, tiny_config, key, 3, 8, "fixed-content")
  b = sample_with_mode(variables, tiny_config, key, 3, 8, "fixed-motion")
  assert not np.allclose(a[0], a[1]) and not np.allclose(b[0], b[1])
  same = sample_videos(variables, tiny_config, key, 3, 8, content=jnp.zeros(8),
                       motion=(jnp.zeros(4), jnp.zeros((8, 4))), category=1)
  np.testing.assert_allclose(same[0], same[1], atol=1e-6)
  np.testing.assert_allclose(same[0], same[2], atol=1e-6)
  with pytest.raises(ValueError, match="mode must be one of"):
    sample_with_mode(variables, tiny_config, key, 3, 8, "sideways")


def test_generator_ema_follows_the_formula_and_is_what_samples_use(tiny_config):
  config = tiny_config.replace(ema_decay=0.99)
  state = create_train_state(config, jax.random.key(0))
  chex.assert_trees_all_equal(state.generator_ema, state.generator.variables)
  source = pipeline.load_source(config)
  step = jax.jit(mocogan.train_step)
  ema = jax.tree.map(np.asarray, state.generator_ema)
  for i in range(3):
    state, _ = step(state, pipeline.make_batch(source, config, i), jax.random.key(i))
    d = min(0.99, (1 + i) / (10 + i))  # the warm-up: 0.1, 0.18, 0.25
    ema = jax.tree.map(lambda e, x: d * e + (1 - d) * np.asarray(x), ema,
                       state.generator.variables)
  chex.assert_trees_all_close(state.generator_ema, ema, rtol=1e-5, atol=1e-6)
  assert not np.allclose(state.generator_ema["params"]["motion_rnn"]["w_ih"],
                         state.generator.params["motion_rnn"]["w_ih"])
  assert mocogan.sampling_variables(state) is state.generator_ema
  plain = create_train_state(tiny_config, jax.random.key(0))
  assert plain.generator_ema is None
  chex.assert_trees_all_equal(mocogan.sampling_variables(plain), plain.generator.variables)


def test_r1_and_tv_terms_add_exactly_their_documented_amounts(tiny_config):
  """R1: gamma / 2 times the squared input gradient on real data, to the
  discriminators r1_on names; tv_weight: to the generator alone."""
  config = tiny_config.replace(noise_sigma=0.0)
  state = create_train_state(config, jax.random.key(0))
  batch = pipeline.make_batch(pipeline.load_source(config), config, step=0)
  step = jax.jit(mocogan.train_step)
  _, plain = step(state, batch, jax.random.key(3))
  _, with_r1 = step(state.replace(config=config.replace(r1_gamma=10.0)), batch, jax.random.key(3))

  def expected(module, variables, x):
    def mean_logit(x):
      (logits, _), _ = module.apply(variables, x, train=True, mutable=["batch_stats"])
      return logits.reshape(len(x), -1).mean(1).sum()
    grad = jax.jit(jax.grad(mean_logit))(x)
    return 5.0 * float(jnp.sum(grad ** 2)) / len(x)

  nets = mocogan.networks(config)
  r1_image = expected(nets.image_discriminator, state.image_discriminator.variables,
                      pixels.to_float(batch["image"]))
  r1_video = expected(nets.video_discriminator, state.video_discriminator.variables,
                      pixels.to_float(batch["video"]))
  assert r1_image > 1e-3 and r1_video > 1e-3
  np.testing.assert_allclose(with_r1["loss/image_discriminator"] - plain["loss/image_discriminator"],
                             r1_image, rtol=1e-3)
  np.testing.assert_allclose(with_r1["loss/video_discriminator"] - plain["loss/video_discriminator"],
                             r1_video, rtol=1e-3)
  # r1_on names the discriminator it weighs; the other's loss is the plain one.
  for on, penalised, plain_one in (("image", "image", "video"), ("video", "video", "image")):
    _, only = step(state.replace(config=config.replace(r1_gamma=10.0, r1_on=on)), batch,
                   jax.random.key(3))
    np.testing.assert_allclose(only[f"loss/{penalised}_discriminator"],
                               with_r1[f"loss/{penalised}_discriminator"], rtol=1e-5)
    np.testing.assert_allclose(only[f"loss/{plain_one}_discriminator"],
                               plain[f"loss/{plain_one}_discriminator"], rtol=1e-5)
  # tv_weight adds to the generator's loss alone tv_weight times the excess of
  # its frames' total variation over the real clips'.
  _, with_tv = step(state.replace(config=config.replace(tv_weight=5.0)), batch, jax.random.key(3))
  assert "loss/excess_total_variation" not in plain
  excess = float(with_tv["loss/excess_total_variation"])
  assert excess > 1e-3  # an untrained generator's frames are noisier than the data's
  np.testing.assert_allclose(with_tv["loss/generator"] - plain["loss/generator"], 5.0 * excess,
                             rtol=1e-4)
  for name in ("loss/image_discriminator", "loss/video_discriminator"):
    np.testing.assert_allclose(with_tv[name], plain[name], rtol=1e-6)


def test_total_variation_and_its_excess_over_the_real_frames():
  flat, checker = jnp.zeros((1, 4, 4, 3)), jnp.tile(jnp.eye(2), (2, 2))[None, :, :, None]
  assert float(losses.total_variation(checker * jnp.ones(3))) == 2.0  # every neighbour differs
  assert float(losses.excess_total_variation(flat, checker)) == 0.0  # hinge: below is free
  assert float(losses.excess_total_variation(checker * jnp.ones(3), flat)) == 2.0


def test_pixels_round_trip_on_host_and_device():
  """uint8 -> [-1, 1] -> uint8 is exact, with NumPy and with JAX under jit;
  out-of-range values clip."""
  frames = np.arange(256, dtype=np.uint8).reshape(16, 16)
  assert isinstance(pixels.to_float(frames), np.ndarray)
  np.testing.assert_array_equal(pixels.to_uint8(pixels.to_float(frames)), frames)
  on_device = jax.jit(lambda x: pixels.to_uint8(pixels.to_float(x)))(jnp.asarray(frames))
  assert isinstance(on_device, jax.Array)
  np.testing.assert_array_equal(on_device, frames)
  np.testing.assert_array_equal(pixels.to_uint8(np.array([-3.0, 3.0])), [0, 255])


def test_video_loss_weight_zero_leaves_the_generator_to_the_image_discriminator(tiny_config):
  """The image-GAN measurement (experiments/notes/why_the_videos_drift.md, "Which discriminator draws colour"):
  with video_loss_weight=0 and no InfoGAN term, G's update does not depend on
  the video discriminator; at weight 1 it does."""
  source = pipeline.load_source(tiny_config)
  batch = pipeline.make_batch(source, tiny_config, step=0)

  @functools.partial(jax.jit, static_argnums=0)
  def generator_after(config, shift):
    state = mocogan.create_train_state(config, jax.random.key(0))
    dv = state.video_discriminator
    state = state.replace(video_discriminator=dv.replace(
        params=jax.tree.map(lambda p: p + shift, dv.params)))
    g, *_ = mocogan.generator_update(state, state.generator.batch_stats, batch["video"],
                                      batch["label"], jax.random.key(1))
    return g.params

  image_gan = tiny_config.replace(video_loss_weight=0.0, use_infogan=False)
  chex.assert_trees_all_close(generator_after(image_gan, 0.0), generator_after(image_gan, 0.1))
  assert not np.allclose(generator_after(tiny_config, 0.0)["motion_rnn"]["w_ih"],
                         generator_after(tiny_config, 0.1)["motion_rnn"]["w_ih"])


@pytest.mark.accelerator
def test_bfloat16_computes_in_bfloat16_keeps_float32_state_and_still_learns(tiny_config):
  bf16 = tiny_config.replace(dtype="bfloat16")
  source = pipeline.load_source(tiny_config)
  batch = pipeline.make_batch(source, tiny_config, step=0)
  metrics = {}
  for config in (tiny_config, bf16):
    state = create_train_state(config, jax.random.key(0))
    state, metrics[config.dtype] = jax.jit(mocogan.train_step)(state, batch, jax.random.key(1))
    # Parameters, Adam moments and BatchNorm statistics stay float32.
    assert {x.dtype for x in jax.tree.leaves(state)} <= {jnp.dtype("float32"),
                                                        jnp.dtype("int32")}
  generate = functools.partial(
      mocogan.networks(bf16).generator.apply, state.generator.variables,
      mocogan.sample_latents(jax.random.key(2), bf16, 2, 4), train=False)
  assert generate().dtype == jnp.float32
  assert "bf16" in str(jax.make_jaxpr(generate)())  # the convolutions run in bfloat16
  # One step from the same weights, batch and key: the losses agree to bfloat16's
  # precision (measured: within 2e-3 on the tiny config).
  for name, value in metrics["float32"].items():
    assert abs(float(metrics["bfloat16"][name]) - float(value)) < 2e-2, name
  before, after = _train_and_measure(bf16)
  assert after < 0.6 * before, (before, after)

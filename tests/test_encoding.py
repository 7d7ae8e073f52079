"""Encoders, their train step, prediction, transfer, the ConvRNN baseline and
the prediction commands (SVG-LP itself: test_svg.py)."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mocogan_jax.predictors import baseline, encoding, prediction
from mocogan_jax.errors import ConfigError
from mocogan_jax.data import pipeline
from mocogan_jax.models import mocogan
from mocogan_jax.pixels import to_float, to_uint8

from conftest import create_train_state, tiny_config_with


@pytest.fixture(scope="module")
def tiny(data_dir):
  config = tiny_config_with(data_dir)
  generator = create_train_state(config, jax.random.key(0)).generator.variables
  return config, generator


@functools.partial(jax.jit, static_argnums=0)
def _generate(config, variables, latents):
  """The generator's videos of latents (mocogan.sample_latents), in one program."""
  return mocogan.generator(config).apply(variables, latents, train=False)


def _videos(config, n, t, seed=0):
  rng = np.random.default_rng(seed)
  s = config.image_size
  return rng.integers(0, 256, (n, t, s, s, config.channels), dtype=np.uint8)


def test_encoder_shapes_and_purity(tiny):
  config, _ = tiny
  encoder = mocogan.encoder(config)
  videos = jnp.asarray(to_float(_videos(config, 3, 5)))
  variables = jax.jit(functools.partial(encoder.init, train=False))(jax.random.key(1), videos)
  apply = jax.jit(functools.partial(encoder.apply, train=False))
  codes = apply(variables, videos)
  assert codes["content"].shape == (3, config.dim_z_content)
  assert codes["motion"].shape == (3, 5, config.dim_z_motion)
  assert codes["category"].shape == (3, config.n_categories)
  assert np.allclose(codes["category"].sum(-1), 1.0, atol=1e-5)
  again = apply(variables, videos)
  assert all(np.array_equal(codes[k], again[k]) for k in codes)
  # Content from the first frame ignores the others; the average does not.
  changed = videos.at[:, 1:].set(-videos[:, 1:])
  first = jax.jit(functools.partial(mocogan.encoder(config, "first").apply, train=False))
  assert np.array_equal(first(variables, videos)["content"], first(variables, changed)["content"])
  assert not np.allclose(codes["content"], apply(variables, changed)["content"])


def _state(config, generator, **settings):
  settings = encoding.EncoderSettings(batch=4, **settings)
  return encoding.create_encoder_state(config, settings, generator, jax.random.key(2))


def test_encoder_train_step_is_pure_and_keeps_the_generator_frozen(tiny):
  config, generator = tiny
  state = _state(config, generator)
  batch = {"video": _videos(config, 4, config.video_length), "label": np.arange(4) % 4}
  step = jax.jit(encoding.encoder_train_step)
  a, metrics_a = step(state, batch, jax.random.key(3))
  b, metrics_b = step(state, batch, jax.random.key(3))
  assert jax.tree.all(jax.tree.map(np.array_equal, a.encoder.params, b.encoder.params))
  assert int(a.step) == 1 and {"loss", "loss/latent", "loss/reconstruction", "error/content",
                               "error/motion", "error/category",
                               "error/category_real"} <= set(metrics_a)
  assert jax.tree.all(jax.tree.map(np.array_equal, a.generator.params, generator["params"]))
  assert not jax.tree.all(jax.tree.map(np.array_equal, a.encoder.params, state.encoder.params))
  assert jax.tree.structure(a) == jax.tree.structure(state)

  tuned = _state(config, generator, finetune_generator=True)
  tuned, _ = step(tuned, batch, jax.random.key(3))
  assert not jax.tree.all(jax.tree.map(np.array_equal, tuned.generator.params,
                                       generator["params"]))

  # The optional feature loss, through the run's image discriminator.
  discriminator = create_train_state(config, jax.random.key(0)).image_discriminator.variables
  settings = encoding.EncoderSettings(batch=4, feature_weight=1.0)
  featured = encoding.create_encoder_state(config, settings, generator, jax.random.key(2),
                                           discriminator)
  _, metrics = step(featured, batch, jax.random.key(3))
  assert float(metrics["loss/feature"]) > 0
  assert float(metrics["loss"]) > float(metrics["loss/latent"] + metrics["loss/reconstruction"])


def test_latent_regression_recovers_the_codes(tiny):
  config, generator = tiny
  settings = encoding.EncoderSettings(batch=16, reconstruction_weight=0.0, learning_rate=3e-3)
  state = encoding.create_encoder_state(config, settings, generator, jax.random.key(2))
  batch = {"video": _videos(config, 16, config.video_length), "label": np.zeros(16, int)}
  step = jax.jit(encoding.encoder_train_step)
  content, motion = [], []
  for i in range(250):  # fresh generated videos every step: errors on unseen codes
    state, metrics = step(state, batch, jax.random.key(i))
    content.append(float(metrics["error/content"]))
    motion.append(float(metrics["error/motion"]))
  assert np.mean(content[-10:]) < 0.5 * np.mean(content[:10])
  assert np.mean(motion[-10:]) < 0.5 * np.mean(motion[:10])


def test_inversion_refines_the_encoders_codes_and_never_raises_the_error(tiny):
  config, generator = tiny
  encoders = _state(config, generator).encoder.variables
  latents = mocogan.sample_latents(jax.random.key(5), config, 3, config.video_length)
  clips = to_uint8(_generate(config, generator, latents))
  read = encoding.encode(encoders, config, "average", clips)
  invert = jax.jit(encoding.invert, static_argnums=(1, 4))
  codes, errors = invert(generator, config, read, clips, 30)
  again, errors_again = invert(generator, config, read, clips, 30)
  assert jax.tree.all(jax.tree.map(np.array_equal, codes, again))
  assert np.array_equal(errors, errors_again)
  assert errors.shape == (31, 3) and np.all(np.diff(errors, axis=0) <= 0)
  assert np.all(errors[-1] < 0.8 * errors[0]), errors[[0, -1]]
  # The codes returned are those of the last error.
  decoded = encoding.decode(generator, config, codes)
  measured = np.mean(np.square(decoded - to_float(clips)), axis=(1, 2, 3, 4))
  np.testing.assert_allclose(measured, errors[-1], rtol=1e-4)
  # No steps: the codes as given.
  codes, errors = invert(generator, config, read, clips, 0)
  assert errors.shape == (1, 3)
  assert all(np.allclose(codes[k], read[k], atol=1e-5) for k in ("content", "category", "motion"))


def test_the_category_picked_is_the_one_that_drew_the_clip(tiny):
  config, generator = tiny
  latents = mocogan.sample_latents(jax.random.key(6), config, 8, config.video_length)
  clips = to_uint8(_generate(config, generator, latents))
  motion = jax.jit(functools.partial(mocogan.generator(config).apply, method="continue_motion"))(
      generator, latents["h0"], latents["eps"])
  k = config.n_categories
  uniform = {"content": latents["content"], "motion": motion,
             "category": jnp.full((8, k), 1.0 / k), "category_logits": jnp.zeros((8, k))}
  picked = encoding.pick_category(generator, config, uniform, clips)
  assert set(picked) == {"content", "category", "motion"}
  np.testing.assert_array_equal(np.argmax(picked["category"], -1), latents["category"])
  np.testing.assert_array_equal(picked["category"].max(-1), 1.0)


def test_predictions_keep_the_context(tiny):
  config, generator = tiny
  state = _state(config, generator)
  context = _videos(config, 2, 3)
  for noise in ("sample", "mean"):
    out = encoding.predict(generator, state.encoder.variables, config, "average", context, 7,
                           jax.random.key(0), noise)
    assert out.shape == (2, 7) + context.shape[2:]
    np.testing.assert_allclose(out[:, :3], to_float(context), atol=1e-6)  # as given, to rounding
    assert np.all(np.abs(out) <= 1)
  a, b = _videos(config, 2, 4), _videos(config, 2, 6, seed=1)
  moved = encoding.transfer(generator, state.encoder.variables, config, "average", a, b, steps=0)
  assert moved.shape == (2, 6) + context.shape[2:]
  # A's content, B's motion codes and category (the action): nothing else of either.
  read = lambda v: encoding.pick_category(
      generator, config, encoding.encode(state.encoder.variables, config, "average", v), v)
  codes_a, codes_b = read(a), read(b)
  expected = encoding.decode(generator, config, codes_b | {"content": codes_a["content"]})
  assert np.allclose(moved, expected, atol=1e-6)
  assert not np.allclose(moved, encoding.decode(generator, config, codes_b), atol=1e-3)
  # Image-to-video: the image's content, the prior's motion, the chosen categories.
  images = context[:, 0]
  categories = jnp.array([1, 3])
  videos = encoding.animate(generator, state.encoder.variables, config, "average", images, 5,
                            jax.random.key(2), categories, steps=0)
  assert videos.shape == (2, 5) + images.shape[1:]
  codes = encoding.encode(state.encoder.variables, config, "average", images[:, None])
  one_hot = jax.nn.one_hot(categories, config.n_categories)
  first = encoding.decode(generator, config, codes | {"category": one_hot})
  assert np.allclose(videos[:, :1], first, atol=1e-6)  # the image as the encoders read it
  again = encoding.animate(generator, state.encoder.variables, config, "average", images, 5,
                           jax.random.key(3), categories, steps=0)
  assert np.allclose(again[:, 0], videos[:, 0]) and not np.allclose(again, videos, atol=1e-3)
  # By default each image moves in the category it was read under.
  own = encoding.animate(generator, state.encoder.variables, config, "average", images, 5,
                         jax.random.key(2), steps=0)
  picked = encoding.pick_category(generator, config, codes, images[:, None])
  assert np.allclose(own[:, :1], encoding.decode(generator, config, picked), atol=1e-6)
  scores = encoding.score_animate(generator, state.encoder.variables, config, "average",
                                  _videos(config, 8, 1)[:, 0], 4, jax.random.key(0), steps=2)
  assert scores["videos"] == 8
  for row in ("own", "cycled"):
    assert 0 <= scores[row]["ssim_first"] <= 1, scores
    assert 0 <= scores[row]["direction_agreement"] <= 1 and 0 <= scores[row]["colour_kept"] <= 1
  copied = prediction.copy_last(context, 7)
  assert np.array_equal(copied[:, 3:], np.repeat(to_float(context)[:, 2:3], 4, axis=1))

  settings = baseline.BaselineSettings(context=3, length=7, hidden=8, batch=2)
  base = baseline.create_baseline_state(config, settings, jax.random.key(0))
  out = baseline.predict(base.params, config, settings, context, 7, jax.random.key(0))
  assert out.shape == (2, 7) + context.shape[2:]
  assert np.array_equal(out[:, :3], to_float(context))


def test_baseline_step_learns(tiny):
  config, _ = tiny
  settings = baseline.BaselineSettings(context=2, length=6, hidden=8, batch=4,
                                       difference_weight=1.0, learning_rate=3e-3)
  state = baseline.create_baseline_state(config, settings, jax.random.key(0))
  clips, _ = pipeline.sample_clips(pipeline.load_source(config), 4, 6, 2, 0)
  batch = {"video": clips}
  step = jax.jit(baseline.baseline_train_step)
  losses = []
  for _ in range(60):
    state, metrics = step(state, batch, jax.random.key(0))
    losses.append(float(metrics["loss"]))
  assert losses[-1] < 0.5 * losses[0]


def test_commands(tmp_path, data_dir):
  from PIL import Image
  from mocogan_jax import video_io
  from conftest import cli
  run = str(tmp_path / "run")
  # A run whose encoders train with the GAN: --steps 0 writes them as they are.
  cli("train", "--config", "tiny", "--workdir", run, f"data_dir={data_dir}", "encoder_weight=1")
  joint = str(tmp_path / "joint")
  _, out, _ = cli("train-encoder", "--workdir", run, "--steps", "0", "--out", joint)
  assert "starting from the encoders trained with the GAN" in out
  from mocogan_jax.workdir import load_state
  config, state = load_state(run)
  _, written, _, _ = encoding.load(joint, config, state.generator.variables)
  chex.assert_trees_all_equal(written, state.encoder.variables)
  status, _, err = cli("predict", "--workdir", run, "--dataset", "test", "--context", "4",
                       "--length", "8", "--out", str(tmp_path / "p.gif"), check=False)
  assert status == 2 and "no encoders in" in err
  bare = str(tmp_path / "bare.msgpack")
  cli("export", "--workdir", run, "--out", bare)
  _, out, _ = cli("train-encoder", "--workdir", run, "--steps", "3", "--batch", "4")
  assert "reconstruction PSNR" in out
  _, out, _ = cli("train-encoder", "--workdir", run, "--steps", "4", "--batch", "4")
  assert "resuming from step 3" in out
  _, out, _ = cli("train-baseline", "--workdir", run, "--model", "convrnn", "--steps", "2",
                  "--batch", "4", "--length", "8", "--hidden", "8")
  assert f"wrote {run}/convrnn" in out
  with pytest.raises(ConfigError, match="holds a convrnn baseline, not svg"):
    baseline.load(f"{run}/convrnn", config, "svg")
  # A workdir of an SVG baseline alone: train-baseline writes its config.json,
  # predict reads it (a baseline inside a GAN run's workdir: convrnn above).
  alone = str(tmp_path / "svg_alone")
  cli("train-baseline", "--config", "tiny", f"data_dir={data_dir}", "--workdir", alone,
      "--model", "svg", "--steps", "1", "--batch", "4", "--length", "8", "--hidden", "8")
  cli("predict", "--workdir", alone, "--model", "svg", "--dataset", "test", "--num", "3",
      "--context", "4", "--length", "8", "--noise", "mean", "--out", str(tmp_path / "svg.gif"))

  for model in ("mocogan", "convrnn", "copy-last"):
    gif = str(tmp_path / f"{model}.gif")
    cli("predict", "--workdir", run, "--dataset", "test", "--num", "3", "--context", "4",
        "--length", "8", "--model", model, "--out", gif)
    image = Image.open(gif)
    assert image.n_frames == 8
    assert image.size[1] > image.size[0]  # 3 rows of (prediction, truth)

  source = pipeline.load_source(tiny_config_with(data_dir), "test")
  for i in (0, 1):
    video_io.write_video(str(tmp_path / f"v{i}.gif"), source[i]["video"])
  gif = str(tmp_path / "t.gif")
  cli("transfer", "--workdir", run, "--content", str(tmp_path / "v0.gif"), "--motion",
          str(tmp_path / "v1.gif"), "--length", "8", "--out", gif)
  assert Image.open(gif).n_frames == 8
  cli("predict", "--workdir", run, "--input", str(tmp_path / "v0.gif"), "--context", "3",
      "--length", "8", "--out", str(tmp_path / "one.gif"))
  cli("animate", "--workdir", run, "--image", str(tmp_path / "v0.gif"), "--length", "6",
      "--num", "3", "--category", "2", "--inversion_steps", "100", "--out",
      str(tmp_path / "a.gif"))
  animated = Image.open(tmp_path / "a.gif")
  assert animated.n_frames == 6 and animated.size[0] > 3 * animated.size[1]  # image + 3 videos

  # The exported file carries the encoders: transfer and predict without the workdir.
  exported = str(tmp_path / "model.msgpack")
  _, out, _ = cli("export", "--workdir", run, "--out", exported)
  assert "and its encoders" in out
  cli("transfer", "--params", exported, "--content", str(tmp_path / "v0.gif"), "--motion",
      str(tmp_path / "v1.gif"), "--length", "8", "--out", str(tmp_path / "t2.gif"))
  assert np.array_equal(np.asarray(Image.open(gif)), np.asarray(Image.open(tmp_path / "t2.gif")))
  cli("predict", "--params", exported, "--dataset", "test", "--num", "3", "--context", "4",
      "--length", "8", "--out", str(tmp_path / "p2.gif"))
  videos = ["--content", str(tmp_path / "v0.gif"), "--motion", str(tmp_path / "v1.gif"),
            "--out", str(tmp_path / "x.gif")]
  for args, message in [
      (["transfer", "--params", bare, *videos], "holds no encoders"),
      (["animate", "--params", bare, "--image", str(tmp_path / "v0.gif"), "--out",
        str(tmp_path / "x.gif")], "holds no encoders"),
      (["animate", "--params", exported, "--image", str(tmp_path / "v0.gif"), "--category",
        "7", "--out", str(tmp_path / "x.gif")], "--category must be in [0, 4)"),
      (["transfer", "--params", exported, "--workdir", run, *videos], "needs one of --workdir"),
      (["predict", "--params", exported, "--model", "convrnn", "--dataset", "test", "--out",
        str(tmp_path / "x.gif")], "give its --workdir"),
      (["predict", "--model", "copy-last", "--dataset", "test", "--out",
        str(tmp_path / "x.gif")], "needs one of --workdir"),
  ]:
    status, _, err = cli(*args, check=False)
    assert status == 2 and message in err, err

  for args, message in [
      (["predict", "--dataset", "test", "--context", "8", "--length", "8"], "--context must be"),
      (["predict", "--dataset", "test", "--model", "vae"], "argument --model: invalid choice"),
      (["train-baseline", "--model", "vae"], "argument --model: invalid choice"),
      (["train-baseline", "--model", "svg", "--kl_weight", "-1"], "--kl_weight must be >= 0"),
      (["predict", "--input", str(tmp_path / "none.gif")], "not found"),
      (["transfer", "--content", str(tmp_path / "v0.gif"), "--motion", "x.gif"], "not found"),
      (["train-encoder", "--content_from", "middle"], "argument --content_from: invalid choice"),
  ]:
    status, _, err = cli(args[0], "--workdir", run, *args[1:], *(
        ["--out", str(tmp_path / "x.gif")] if args[0] in ("predict", "transfer") else []),
        check=False)
    assert status == 2 and message in err, err
    assert err.strip().count("\n") == 0

"""VGAN and TGAN (models/vgan.py, models/tgan.py) in the shared framework:
published parameter counts, shapes, purity and determinism, learning on the
tiny config, the VGAN mask and background, TGAN's singular value clipping."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from mocogan_jax import losses, registry
from mocogan_jax.data import pipeline
from mocogan_jax.errors import ConfigError
from mocogan_jax.models import tgan, vgan

from conftest import step_twice_and_check_purity

MODELS = ("vgan", "tgan")
UNCONDITIONAL = {"n_categories": 0, "use_categories": False, "use_infogan": False,
                 "noise_sigma": 0.0}


def _tiny(tiny_config, model, **overrides):
  return registry.validate(tiny_config.replace(model=model, **UNCONDITIONAL, **overrides))


def _conv(c_in, c_out, taps, bias=True):
  return c_in * c_out * taps + (c_out if bias else 0)


def test_published_parameter_counts():
  """The published networks, layer by layer, at 64x64 (VGAN at its 32 frames:
  cvondrick/videogan main.lua; TGAN at 16: pfnet-research/tgan models/)."""
  bn = lambda n: 2 * n  # scale and offset
  background = (_conv(100, 512, 16) + bn(512) + _conv(512, 256, 16) + bn(256)
                + _conv(256, 128, 16) + bn(128) + _conv(128, 64, 16) + bn(64) + _conv(64, 3, 16))
  foreground = (_conv(100, 512, 2 * 16) + bn(512) + _conv(512, 256, 64) + bn(256)
                + _conv(256, 128, 64) + bn(128) + _conv(128, 64, 64) + bn(64)
                + _conv(64, 1, 64) + _conv(64, 3, 64))
  # Published: two outputs and a softmax; here one logit, the same classifier.
  discriminator_2_logits = (_conv(3, 64, 64) + _conv(64, 128, 64) + bn(128)
                            + _conv(128, 256, 64) + bn(256) + _conv(256, 512, 64) + bn(512)
                            + _conv(512, 2, 2 * 16))
  config = registry.resolve("vgan_64", ["video_length=32"])
  info = registry.get(config).info(config)["parameters"]
  assert info == {"generator": background + foreground,
                  "discriminator": discriminator_2_logits - (512 * 2 * 16 + 1)}

  temporal = (_conv(100, 512, 1) + 512 + _conv(512, 256, 4) + 256 + _conv(256, 128, 4) + 128
              + _conv(128, 128, 4) + 128 + _conv(128, 100, 4))  # BatchNorm without offset
  image = (2 * (100 * 4096 + bn(4096)) + 512 * 256 * 16 + bn(256) + 256 * 128 * 16 + bn(128)
           + 128 * 64 * 16 + bn(64) + 64 * 32 * 16 + bn(32) + _conv(32, 3, 9))
  # (The published discriminator also declares a BatchNorm it never applies, bn0.)
  discriminator = (_conv(3, 64, 64) + _conv(64, 128, 64) + 128 + _conv(128, 256, 64) + 256
                   + _conv(256, 512, 64) + 512 + _conv(512, 1, 16))
  config = registry.resolve("tgan_64")
  info = registry.get(config).info(config)["parameters"]
  assert info == {"generator": temporal + image, "temporal_generator": temporal,
                  "discriminator": discriminator}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("size,length", [(32, 16), (64, 16), (128, 32)])
def test_shapes_at_supported_sizes(model, size, length):
  config = registry.resolve(f"{model}_64", [f"image_size={size}", f"video_length={length}",
                                              "ngf=8", "ndf=8"])
  module = registry.get(config)
  state = jax.eval_shape(lambda k: module.create_train_state(config, k), jax.random.key(0))
  videos = jax.eval_shape(lambda v, k: module.sample_videos(v, config, k, 2),
                          module.sampling_variables(state), jax.random.key(0))
  assert videos.shape == (2, length, size, size, 3) and videos.dtype == jnp.float32


@pytest.mark.parametrize("model,args,message", [
    ("vgan", ["use_infogan=true"], "model=vgan has no use_infogan"),
    ("tgan", ["content_modulation=true"], "model=tgan has no content_modulation"),
    ("vgan", ["video_length=12"], "video_length a multiple of 16"),
    ("tgan", ["video_length=48"], "video_length must be a power of 2"),
    ("tgan", ["eval_every=10", "eval_length=8"], "set eval_length=16"),
])
def test_settings_a_model_cannot_take_are_one_clear_error(model, args, message):
  with pytest.raises(ConfigError, match=message):
    registry.resolve(f"{model}_64", args)


@pytest.mark.parametrize("model", MODELS)
def test_step_is_pure_and_deterministic_and_sampling_is_fixed_length(tiny_config, model):
  config = _tiny(tiny_config, model)
  module = registry.get(config)
  state = jax.jit(module.create_train_state, static_argnums=0)(config, jax.random.key(0))
  assert all(isinstance(x, jax.Array) for x in jax.tree.leaves(state))
  batch = pipeline.make_batch(pipeline.load_source(config), config, step=0)
  step = jax.jit(module.train_step)
  s1, m1 = step_twice_and_check_purity(step, state, batch, jax.random.key(7))
  assert int(s1.step) == 1
  for name in ("generator", "discriminator"):
    changed = jax.tree.map(lambda a, b: not np.array_equal(a, b),
                           getattr(state, name).params, getattr(s1, name).params)
    if model == "tgan" and name == "discriminator":
      # The critic's last bias adds the same to D(real) and D(fake): the
      # Wasserstein loss cancels it, so it never moves (nor in the published code).
      last = max(k for k in changed if k.startswith("Conv_"))
      assert not changed[last].pop("bias")
    assert all(jax.tree.leaves(changed)), name
  assert all(np.isfinite(v) and np.shape(v) == () for v in jax.device_get(m1).values())
  s3, _ = step(state, batch, jax.random.key(8))
  assert not all(jax.tree.leaves(jax.tree.map(np.array_equal, s3.generator.params,
                                              s1.generator.params)))
  with pytest.raises(ConfigError, match="exactly video_length=8 frames"):
    module.sample_videos(module.sampling_variables(s1), config, jax.random.key(0), 2, 16)
  with pytest.raises(ConfigError, match="unconditional"):
    module.sample_videos(module.sampling_variables(s1), config, jax.random.key(0), 2, category=1)


def _image_distance(module, state, config, real_mean):
  videos = np.asarray(module.sample_videos(module.sampling_variables(state), config,
                                           jax.random.key(123), 32))
  return float(np.abs(videos.reshape((-1,) + videos.shape[2:]).mean(0) - real_mean).mean())


def _train_and_measure(config, steps):
  """Mean |E[generated frame] - E[real frame]| before and after `steps` steps
  (as test_training.py does for MoCoGAN)."""
  module = registry.get(config)
  source = pipeline.load_source(config)
  real = np.concatenate([source[i]["video"] for i in range(len(source))])
  real_mean = (real.astype(np.float32) / 127.5 - 1.0).mean(0)
  state = jax.jit(module.create_train_state, static_argnums=0)(config, jax.random.key(0))
  before = _image_distance(module, state, config, real_mean)
  step = jax.jit(module.train_step, donate_argnums=0)
  for i in range(steps):
    state, _ = step(state, pipeline.make_batch(source, config, i), jax.random.key(i))
  return before, _image_distance(module, state, config, real_mean)


@pytest.mark.parametrize("model", MODELS)
def test_each_model_learns_and_a_wrong_sign_does_not(tiny_config, model, monkeypatch):
  # A high learning rate so that 100 tiny steps show the trend: the untrained
  # generators paint mid-grey; the data is black with one small shape.
  # Measured: VGAN 0.93 -> 0.34 (wrong sign: 1.41), TGAN 0.93 -> 0.41 (1.22).
  config, steps = _tiny(tiny_config, model, learning_rate=1e-3), 100
  before, after = _train_and_measure(config, steps)
  assert after < 0.6 * before, (before, after)
  # The same measurement catches a generator objective with the wrong sign.
  name = "generator_loss" if model == "vgan" else "wasserstein_generator_loss"
  right = getattr(losses, name)
  monkeypatch.setattr(losses, name, lambda logits: -right(logits))
  jax.clear_caches()  # jit caches traces per function and static config: retrace
  try:
    before_wrong, after_wrong = _train_and_measure(config, steps)
  finally:
    jax.clear_caches()
  assert after_wrong > before_wrong, (before_wrong, after_wrong)


def test_vgan_mask_is_in_0_1_and_the_background_is_static(tiny_config):
  config = _tiny(tiny_config, "vgan")
  module = registry.get(config)
  state = jax.jit(module.create_train_state, static_argnums=0)(config, jax.random.key(0))
  z = vgan.sample_latents(jax.random.key(1), config, 4)
  g = vgan.generator(config)
  foreground, mask, background = g.apply(state.generator.variables, z, train=False,
                                         method=vgan.VganGenerator.streams)
  assert foreground.shape == (4, 8, 16, 16, 3) and mask.shape == (4, 8, 16, 16, 1)
  assert background.shape == (4, 16, 16, 3)  # one image per video: constant over time
  assert float(mask.min()) >= 0.0 and float(mask.max()) <= 1.0
  videos = g.apply(state.generator.variables, z, train=False)
  np.testing.assert_allclose(videos, mask * foreground + (1 - mask) * background[:, None],
                             atol=1e-6)
  # With the mask shut, every frame is the one background image.
  params = jax.tree_util.tree_map_with_path(
      lambda path, x: x - 1e4 if _is_mask_bias(path, state.generator.params) else x,
      state.generator.params)
  shut = np.asarray(g.apply({**state.generator.variables, "params": params}, z, train=False))
  assert np.abs(shut - shut[:, :1]).max() == 0.0
  assert np.abs(foreground - foreground[:, :1]).max() > 0.0  # what the mask shuts out moves


def _is_mask_bias(path, params):
  """The bias of the mask head: the one 3D transposed conv with one output channel."""
  names = [p.key for p in path]
  if names[-1] != "bias":
    return False
  kernel = params[names[0]].get("kernel")
  return kernel is not None and kernel.ndim == 5 and kernel.shape[-1] == 1


def _singular_values(kernel):
  return np.linalg.svd(np.asarray(kernel).reshape(-1, kernel.shape[-1]), compute_uv=False)


def test_tgan_clips_singular_values_every_fifth_step(tiny_config):
  config = _tiny(tiny_config, "tgan")
  state = jax.jit(tgan.create_train_state, static_argnums=0)(config, jax.random.key(0))
  # Kernels with singular values well above 1, so that clipping has work to do.
  big = jax.tree_util.tree_map_with_path(
      lambda path, x: x * 50.0 if "kernel" in jax.tree_util.keystr(path) else x,
      state.discriminator.params)
  kernels = lambda params: [x for p, x in jax.tree_util.tree_leaves_with_path(params)
                            if "kernel" in jax.tree_util.keystr(p)]
  assert len(kernels(big)) == 3 and all(_singular_values(k).max() > 2 for k in kernels(big))
  state = state.replace(discriminator=state.discriminator.replace(params=big))
  batch = pipeline.make_batch(pipeline.load_source(config), config, step=0)
  step = jax.jit(tgan.train_step)
  unclipped, _ = step(state.replace(step=jnp.int32(0)), batch, jax.random.key(0))
  assert any(_singular_values(k).max() > 1.5 for k in kernels(unclipped.discriminator.params))
  clipped, _ = step(state.replace(step=jnp.int32(tgan.SVC_EVERY - 1)), batch, jax.random.key(0))
  for k in kernels(clipped.discriminator.params):
    assert _singular_values(k).max() <= 1.0 + 1e-4
  stats = clipped.discriminator.batch_stats
  for name, bn in clipped.discriminator.params.items():
    if "scale" in bn:
      std = np.sqrt(np.asarray(stats[name]["var"]))
      assert np.all(bn["scale"] <= std * (1 + 1e-5)) and np.all(bn["scale"] >= 0.01 * std * (1 - 1e-5))


def test_the_command_line_trains_resumes_samples_evaluates_and_exports_each_model(
    tmp_path, data_dir):
  from conftest import cli
  unconditional = [f"{k}={v}" for k, v in UNCONDITIONAL.items()]
  for model in MODELS:
    common = ["--config", "tiny", f"data_dir={data_dir}", f"model={model}", *unconditional,
              "checkpoint_every=2", "sample_every=100"]
    straight, resumed = str(tmp_path / f"{model}_straight"), str(tmp_path / f"{model}_resumed")
    cli("train", "--workdir", straight, *common, "num_steps=6")
    cli("train", "--workdir", resumed, *common, "num_steps=4")
    _, out, err = cli("train", "--workdir", resumed, *common, "num_steps=6")
    assert "resuming from step 4" in out + err and f"{model} parameters: generator" in out + err
    # Resumed across TGAN's clipping step (5): the same numbers as one run.
    metrics = lambda run: [{k: v for k, v in json.loads(line).items() if k != "steps_per_second"}
                           for line in open(os.path.join(run, "metrics.jsonl"))]
    assert metrics(straight) == metrics(resumed) and len(metrics(straight)) == 3

    gif = str(tmp_path / f"{model}.gif")
    cli("sample", "--workdir", resumed, "--out", gif, "--num", "2")
    assert _gif_frames(gif) == 8
    for args, message in [(["--mode", "fixed-content"], "has neither (use --mode random)"),
                          (["--length", "12"], "exactly video_length=8 frames")]:
      status, _, err = cli("sample", "--workdir", resumed, "--out", gif, *args, check=False)
      assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err
    status, _, err = cli("train-encoder", "--workdir", resumed, check=False)
    assert status == 2 and f"this run is model={model}" in err, err

    _, out, _ = cli("evaluate", "--workdir", resumed, "--metrics", "acd", "--num", "8",
                    "--length", "8")
    assert "acd" in out
    exported = str(tmp_path / f"{model}.msgpack")
    cli("export", "--workdir", resumed, "--out", exported)
    cli("sample", "--params", exported, "--out", gif, "--num", "2")
    assert _gif_frames(gif) == 8


def _gif_frames(path, fps=8):
  """Frames shown, at the default --fps: a GIF merges identical neighbours
  (near-constant untrained videos) into one longer frame."""
  image, shown = Image.open(path), 0
  for i in range(image.n_frames):
    image.seek(i)
    shown += image.info["duration"]
  return round(shown / int(1000 / fps))

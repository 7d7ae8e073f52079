"""The networks: official parameter counts, shapes at every size, conv implementations."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mocogan_jax.config import Config
from mocogan_jax.registry import validate

from mocogan_jax.errors import ConfigError
from mocogan_jax.models import layers, mocogan
from mocogan_jax.models.generator import MotionRNN, binomial_blur

KEY = jax.random.key(0)


def _count(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def _inputs(x):
  """A module input: an array, or a function making one while traced."""
  return x() if callable(x) else x


def _init_shapes(module, x):
  return jax.eval_shape(lambda: module.init({"params": KEY, "noise": KEY}, _inputs(x), train=True))


def _apply_shapes(module, x):
  def run():
    variables = module.init({"params": KEY, "noise": KEY}, _inputs(x), train=False)
    return module.apply(variables, _inputs(x), train=False, rngs={"noise": KEY})
  return jax.eval_shape(run)


def test_official_parameter_counts():
  """Exactly the official src/models.py at its defaults (BN scale and bias counted)."""
  c = Config()
  g = _init_shapes(mocogan.generator(c), lambda: mocogan.sample_latents(KEY, c, 2, 16))["params"]
  assert _count(g) == 3_298_836
  assert _count(g["motion_rnn"]) == 660
  kernels = [x for path, x in jax.tree_util.tree_leaves_with_path(g["image_generator"])
             if "kernel" in jax.tree_util.keystr(path)]
  assert sum(int(np.prod(k.shape)) for k in kernels) == 3_296_256
  assert _count(g["image_generator"]) - 3_296_256 == 1_920
  image = jnp.zeros((2, 64, 64, 3))
  video = jnp.zeros((2, 16, 64, 64, 3))
  counts = {
      ("image", "patch"): 663_296, ("image", "full"): 2_765_568,
      ("video", "categorical"): 11_253_504, ("video", "plain"): 11_056_896,
      ("video", "patch"): 2_650_880,
  }
  for (kind, variant), expected in counts.items():
    if kind == "image":
      module = mocogan.image_discriminator(c.replace(image_discriminator=variant))
      params = _init_shapes(module, image)
    else:
      module = mocogan.video_discriminator(c.replace(video_discriminator=variant))
      params = _init_shapes(module, video)
    assert _count(params["params"]) == expected, (kind, variant)


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("length", [8, 16, 24])
def test_shapes_at_every_size_and_length(size, length):
  c = Config(image_size=size, video_length=length, ngf=8, ndf=8)
  videos = _apply_shapes(mocogan.generator(c), lambda: mocogan.sample_latents(KEY, c, 2, length))
  chex.assert_shape(videos, (2, length, size, size, 3))

  for variant, patch in (("patch", size // 16), ("full", 1)):
    logits, categories = _apply_shapes(
        mocogan.image_discriminator(c.replace(image_discriminator=variant)),
        jnp.zeros((2, size, size, 3)))
    assert logits.shape == (2, patch, patch) and categories is None

  video = jnp.zeros((2, length, size, size, 3))
  blocks = {32: 3, 64: 4, 128: 5}[size]
  for padding in (0, 1, 2):  # the smallest temporal padding leaving an output
    time_out = length - blocks * (3 - 2 * padding) - 3
    if time_out >= 1:
      break
  logits, categories = _apply_shapes(mocogan.video_discriminator(c), video)
  assert logits.shape == (2, time_out, 1, 1) and categories.shape == (2, 6)
  plain = mocogan.video_discriminator(c.replace(video_discriminator="plain"))
  logits, categories = _apply_shapes(plain, video)
  assert logits.shape == (2, time_out, 1, 1) and categories is None
  patch = mocogan.video_discriminator(c.replace(video_discriminator="patch"))
  logits, _ = _apply_shapes(patch, video)
  assert logits.shape[0] == 2 and logits.shape[2:] == (size // 16, size // 16)


def test_official_video_discriminator_is_one_logit_at_16_frames():
  c = Config()
  logits, categories = _apply_shapes(mocogan.video_discriminator(c), jnp.zeros((3, 16, 64, 64, 3)))
  assert logits.shape == (3, 1, 1, 1) and categories.shape == (3, 6)


def test_too_short_video_is_a_config_error():
  with pytest.raises(ConfigError, match="video_length=3 is too short"):
    validate(Config(video_length=3))


def test_motion_rnn_unrolls_any_length_and_matches_pytorch_gru_equations():
  rnn = MotionRNN(10)
  h0 = jax.random.normal(KEY, (3, 10))
  params = rnn.init(KEY, h0, jnp.zeros((3, 1, 10)))["params"]
  for length in (1, 5, 40):
    eps = jax.random.normal(jax.random.key(length), (3, length, 10))
    out = rnn.apply({"params": params}, h0, eps)
    chex.assert_shape(out, (3, length, 10))
    # Reference: torch.nn.GRUCell's documented equations, step by step in numpy.
    p = jax.tree.map(np.asarray, params)
    h = np.asarray(h0)
    for t in range(length):
      gi = np.asarray(eps[:, t]) @ p["w_ih"] + p["b_ih"]
      gh = h @ p["w_hh"] + p["b_hh"]
      r = 1 / (1 + np.exp(-(gi[:, :10] + gh[:, :10])))
      z = 1 / (1 + np.exp(-(gi[:, 10:20] + gh[:, 10:20])))
      n = np.tanh(gi[:, 20:] + r * gh[:, 20:])
      h = (1 - z) * n + z * h
      np.testing.assert_allclose(out[:, t], h, rtol=1e-5, atol=1e-6)


def _grad_pair(fn, x, w):
  """(output, d/dx, d/dw) of sum(sin(fn(x, w))) for both implementations."""
  results = []
  for impl in ("native", "matmul"):
    f = lambda x, w: fn(x, w, impl)
    out = f(x, w)
    grads = jax.grad(lambda x, w: jnp.sum(jnp.sin(f(x, w))), argnums=(0, 1))(x, w)
    results.append((out,) + grads)
  return results


@pytest.mark.parametrize("case", [
    ("conv2d s2", lambda x, w, i: layers.conv2d(x, w, 2, 1, i), (2, 8, 8, 3), (4, 4, 3, 5)),
    ("conv2d s1 p0", lambda x, w, i: layers.conv2d(x, w, 1, 0, i), (2, 4, 4, 6), (4, 4, 6, 3)),
    ("convT 1x1", lambda x, w, i: layers.conv_transpose2d(x, w, 1, 0, i), (2, 1, 1, 6), (4, 4, 6, 5)),
    ("convT s2", lambda x, w, i: layers.conv_transpose2d(x, w, 2, 1, i), (2, 4, 4, 6), (4, 4, 6, 16)),
    ("convT s2 thin", lambda x, w, i: layers.conv_transpose2d(x, w, 2, 1, i), (2, 4, 4, 6), (4, 4, 6, 3)),
    ("conv3d", lambda x, w, i: layers.conv3d(x, w, (1, 2, 2), (0, 1, 1), i), (2, 6, 8, 8, 3), (4, 4, 4, 3, 5)),
    ("conv3d time pad", lambda x, w, i: layers.conv3d(x, w, (1, 2, 2), (1, 1, 1), i), (2, 4, 8, 8, 3), (4, 4, 4, 3, 5)),
    ("conv3d s2 in time", lambda x, w, i: layers.conv3d(x, w, (2, 2, 2), (1, 1, 1), i), (2, 8, 8, 8, 3), (4, 4, 4, 3, 5)),
    ("convT3d s2", lambda x, w, i: layers.conv_transpose3d(x, w, (2, 2, 2), (1, 1, 1), i), (2, 3, 4, 4, 6), (4, 4, 4, 6, 16)),
    ("convT3d 1x1x1", lambda x, w, i: layers.conv_transpose3d(x, w, (1, 1, 1), (0, 0, 0), i), (2, 1, 1, 1, 6), (2, 4, 4, 6, 5)),
], ids=lambda c: c[0])
def test_matmul_and_native_convolutions_agree(case):
  _, fn, x_shape, w_shape = case
  x = jax.random.normal(jax.random.key(1), x_shape)
  w = jax.random.normal(jax.random.key(2), w_shape)
  native, matmul = _grad_pair(fn, x, w)
  for a, b in zip(native, matmul):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_transposed_conv_matches_pytorch_definition():
  """out[o] += x[i] * w[o + p - s*i], written out with loops."""
  x = np.asarray(jax.random.normal(jax.random.key(3), (1, 3, 3, 2)))
  w = np.asarray(jax.random.normal(jax.random.key(4), (4, 4, 2, 3)))
  s, p = 2, 1
  out = np.zeros((1, 6, 6, 3))
  for iy in range(3):
    for ix in range(3):
      for oy in range(6):
        for ox in range(6):
          ky, kx = oy + p - s * iy, ox + p - s * ix
          if 0 <= ky < 4 and 0 <= kx < 4:
            out[0, oy, ox] += x[0, iy, ix] @ w[ky, kx]
  for impl in ("native", "matmul"):
    np.testing.assert_allclose(layers.conv_transpose2d(x, w, s, p, impl), out, rtol=1e-5, atol=1e-5)


def test_3d_and_1d_transposed_convs_match_pytorch_definition():
  """The same definition in every dimension: out[o] += x[i] * w[o + p - s*i]."""
  x = np.asarray(jax.random.normal(jax.random.key(3), (1, 3, 2, 2, 2)))
  w = np.asarray(jax.random.normal(jax.random.key(4), (4, 4, 4, 2, 3)))
  s, p = 2, 1
  out = np.zeros((1, 6, 4, 4, 3))
  for i in np.ndindex(3, 2, 2):
    for o in np.ndindex(6, 4, 4):
      k = tuple(oj + p - s * ij for oj, ij in zip(o, i))
      if all(0 <= kj < 4 for kj in k):
        out[(0, *o)] += x[(0, *i)] @ w[k]
  for impl in ("native", "matmul"):
    np.testing.assert_allclose(layers.conv_transpose3d(x, w, (s, s, s), (p, p, p), impl), out,
                               rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(layers.conv_transpose1d(x[:, :, 0, 0], w[:, 0, 0], s, p),
                             _transpose_1d(x[:, :, 0, 0], w[:, 0, 0], s, p), rtol=1e-5, atol=1e-5)


def _transpose_1d(x, w, s, p):
  length = (x.shape[1] - 1) * s - 2 * p + w.shape[0]
  out = np.zeros((x.shape[0], length, w.shape[2]))
  for i in range(x.shape[1]):
    for o in range(length):
      if 0 <= o + p - s * i < w.shape[0]:
        out[:, o] += x[:, i] @ w[o + p - s * i]
  return out


def test_only_batch_norm_judges_a_clip_by_the_rest_of_its_batch():
  """In training mode a clip's logit does not depend on the rest of its batch
  with discriminator_norm none, layer (per example) or spectral (per kernel);
  with the official BatchNorm it does (each batch is normalised by its own
  statistics)."""
  videos = jax.random.uniform(KEY, (4, 8, 16, 16, 3), minval=-1, maxval=1)
  for norm, alone in (("none", True), ("layer", True), ("spectral", True), ("batch", False)):
    module = mocogan.video_discriminator(Config(image_size=16, video_length=8, ndf=8,
                                                n_categories=4, discriminator_norm=norm))
    variables = module.init({"params": KEY, "noise": KEY}, videos, train=False)
    judge = lambda x: module.apply(variables, x, train=True, mutable=["batch_stats"])[0][0]
    assert np.allclose(judge(videos)[:1], judge(videos[:1]), atol=1e-5) == alone, norm


def test_spectral_norm_divides_each_kernel_by_its_largest_singular_value():
  """After enough power iterations every conv of the image discriminator acts
  with a kernel, reshaped to (k*k*C_in, C_out), whose spectral norm is 1."""
  config = Config(image_size=16, ndf=8, discriminator_norm="spectral")
  module = mocogan.image_discriminator(config)
  images = jax.random.uniform(KEY, (2, 16, 16, 3), minval=-1, maxval=1)
  variables = module.init({"params": KEY, "noise": KEY}, images, train=False)
  for _ in range(200):  # power iteration, one step per training call
    _, updated = module.apply(variables, images, train=True, mutable=["batch_stats"])
    variables = {**variables, **updated}
  for name, kernel in variables["params"].items():
    sigma = variables["batch_stats"][f"SpectralNorm_{name[-1]}"][f"{name}/kernel/sigma"]
    matrix = np.asarray(kernel["kernel"]).reshape(-1, kernel["kernel"].shape[-1])
    true_sigma = np.linalg.norm(matrix, 2)
    np.testing.assert_allclose(sigma, true_sigma, rtol=1e-2, err_msg=name)


def test_the_image_discriminator_can_have_its_own_normalisation():
  config = Config(image_size=16, video_length=8, ndf=8, n_categories=4,
                  discriminator_norm="spectral", image_discriminator_norm="batch")
  assert mocogan.image_discriminator(config).norm == "batch"
  assert mocogan.video_discriminator(config).norm == "spectral"
  assert mocogan.image_discriminator(config.replace(image_discriminator_norm="")).norm == "spectral"


@pytest.mark.parametrize("resolution", [8, 4])
def test_self_attention_changes_no_shape_and_starts_as_the_identity(resolution):
  base = Config(image_size=16, video_length=8, dim_z_content=8, dim_z_motion=4, n_categories=4,
                ngf=8, ndf=8, discriminator_norm="none")
  with_attention = validate(base.replace(attention_resolution=resolution))
  latents = mocogan.sample_latents(KEY, base, 2, 8)
  videos = jax.random.uniform(KEY, (2, 8, 16, 16, 3), minval=-1, maxval=1)
  for build, x in ((mocogan.generator, latents), (mocogan.image_discriminator, videos[:, 0]),
                   (mocogan.video_discriminator, videos)):
    plain, attending = build(base), build(with_attention)
    rngs = {"params": KEY, "noise": KEY}
    v_plain = plain.init(rngs, x, train=False)
    v_attending = attending.init(rngs, x, train=False)
    gammas = [path for path, _ in jax.tree_util.tree_flatten_with_path(v_attending["params"])[0]
              if "gamma" in jax.tree_util.keystr(path)]
    assert len(gammas) == 1, build.__name__  # one block, at the features of that size
    out_plain = plain.apply(v_plain, x, train=False)
    out_attending = attending.apply(v_attending, x, train=False)
    chex.assert_trees_all_equal_shapes(out_plain, out_attending)
    # gamma = 0 at initialisation: the same function as without the block.
    chex.assert_trees_all_close(out_plain, out_attending, atol=1e-6)
    opened = jax.tree.map(lambda p: jnp.ones_like(p) if p.shape == () else p, v_attending)
    changed = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()),
                           attending.apply(opened, x, train=False), out_attending)
    assert max(jax.tree.leaves(changed)) > 1e-4, build.__name__


def test_attention_resolution_must_exist_in_every_network():
  with pytest.raises(ConfigError, match="attention_resolution"):
    validate(Config(image_size=16, attention_resolution=2))


def test_content_modulation_starts_as_the_official_generator_and_reads_z_content_only():
  base = Config(image_size=16, video_length=8, dim_z_content=8, dim_z_motion=4, n_categories=4,
                ngf=8, ndf=8)
  plain, modulated = mocogan.generator(base), mocogan.generator(
      base.replace(content_modulation=True))
  latents = mocogan.sample_latents(KEY, base, 2, 8)
  v_plain = plain.init(KEY, latents, train=False)
  v_modulated = modulated.init(KEY, latents, train=False)
  is_map = lambda path: all(s in jax.tree_util.keystr(path) for s in ("Modulation", "kernel"))
  kernels = [leaf.shape for path, leaf
             in jax.tree_util.tree_flatten_with_path(v_modulated["params"])[0] if is_map(path)]
  # One FiLM per BatchNorm (16x16: 4x4 and 8x8 blocks), reading z_content's 8 entries.
  assert sorted(kernels) == [(8, 2 * 8), (8, 2 * 16)]
  # Zero-initialised: the same function as the official generator.
  chex.assert_trees_all_close(plain.apply(v_plain, latents, train=False),
                              modulated.apply(v_modulated, latents, train=False), atol=1e-6)
  opened = jax.tree_util.tree_map_with_path(
      lambda path, p: jax.random.normal(KEY, p.shape) if is_map(path) else p, v_modulated)
  # With the maps open, the output moves with z_content, but a zero z_content
  # gives the official generator again: the code is z_content and nothing else.
  assert float(jnp.abs(modulated.apply(opened, latents, train=False)
                       - plain.apply(v_plain, latents, train=False)).max()) > 1e-3
  silent = dict(latents, content=jnp.zeros_like(latents["content"]))
  chex.assert_trees_all_close(plain.apply(v_plain, silent, train=False),
                              modulated.apply(opened, silent, train=False), atol=1e-6)


def test_output_blur_adds_no_parameters_and_removes_only_the_alternating_pixel_pattern():
  base = Config(image_size=16, video_length=4, dim_z_content=8, dim_z_motion=4, n_categories=4,
                ngf=8, ndf=8)
  plain, blurred = mocogan.generator(base), mocogan.generator(base.replace(output_blur=True))
  latents = mocogan.sample_latents(KEY, base, 2, 4)
  variables = plain.init(KEY, latents, train=False)
  # The same variables serve both (so init_from can continue a run with it).
  chex.assert_trees_all_equal_shapes(variables, blurred.init(KEY, latents, train=False))
  logits = jnp.arctanh(plain.apply(variables, latents, train=False))
  chex.assert_trees_all_close(jnp.tanh(binomial_blur(logits)),
                              blurred.apply(variables, latents, train=False), atol=1e-5)
  y, x = jnp.meshgrid(jnp.arange(8), jnp.arange(8), indexing="ij")
  checkerboard = ((-1.0) ** (x + y))[None, :, :, None]
  assert float(jnp.abs(binomial_blur(checkerboard)[:, 1:-1, 1:-1]).max()) < 1e-6
  constant = jnp.full((1, 8, 8, 3), 0.7)
  chex.assert_trees_all_close(binomial_blur(constant), constant, atol=1e-6)


def test_resize_upsampling_replaces_only_the_last_transposed_convolution():
  """resize swaps the generator's last ConvT (k4 s2, C_in -> C) for a 3x3
  convolution after nearest x2, and changes no other variable; the default
  (transpose) is the official generator; any other value is refused."""
  base = Config(image_size=16, video_length=4, dim_z_content=8, dim_z_motion=4, n_categories=4,
                ngf=8, ndf=8)
  official, resized = mocogan.generator(base), mocogan.generator(
      base.replace(output_upsample="resize"))
  latents = mocogan.sample_latents(KEY, base, 2, 4)
  ours, theirs = (g.init(KEY, latents, train=False) for g in (official, resized))
  assert base.output_upsample == "transpose"
  image_generator = lambda v: v["params"]["image_generator"]
  assert set(image_generator(ours)) - set(image_generator(theirs)) == {"ConvTranspose2d_2"}
  assert set(image_generator(theirs)) - set(image_generator(ours)) == {"Conv2d_0"}
  assert image_generator(theirs)["Conv2d_0"]["kernel"].shape == (3, 3, 8, 3)
  videos = resized.apply(theirs, latents, train=False)
  assert videos.shape == (2, 4, 16, 16, 3) and bool(jnp.all(jnp.abs(videos) <= 1))
  with pytest.raises(ConfigError, match="output_upsample must be one of"):
    validate(base.replace(output_upsample="bilinear"))

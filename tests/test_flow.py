"""The optical flow estimator (flow.py) on motions whose flow is known."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mocogan_jax.flow import _filter, optical_flow, warp


def _texture(key, n=2, size=64):
  """(N, S, S) smooth random texture in [0, 1]: uniform noise, box-blurred 4 times."""
  texture = jax.random.uniform(key, (n, size, size))
  for _ in range(4):
    texture = _filter(texture, jnp.ones((3, 3)) / 9)
  return (texture - texture.min()) / (texture.max() - texture.min())


def _frames(gray):
  return jnp.repeat(gray[..., None] * 2 - 1, 3, axis=-1)  # (N, S, S, 3) in [-1, 1]


@pytest.mark.parametrize("shift", [(0.4, 0.3), (1.5, -2.0), (3.0, 1.0)])
def test_translations_are_found_to_a_quarter_pixel(shift):
  texture = _texture(jax.random.key(0))
  # The content moves by (dx, dy): b(y, x) = a(y - dy, x - dx), so b(y + dy, x + dx) = a(y, x).
  moved = warp(texture, jnp.broadcast_to(-jnp.array(shift), texture.shape + (2,)))
  flow = jax.jit(optical_flow, static_argnums=(2, 3, 4))(
      _frames(texture), _frames(moved), 3, 200, 0.5)
  assert flow.shape == texture.shape + (2,)
  inner = flow[:, 8:-8, 8:-8]  # away from the edges the shift brings in
  error = np.asarray(jnp.sqrt(((inner - jnp.array(shift)) ** 2).sum(-1)))
  # Measured: mean end-point error 0.11-0.13 px for the two larger shifts.
  assert error.mean() < 0.25, error.mean()


def test_identical_frames_have_zero_flow_and_the_flow_is_differentiable():
  frames = _frames(_texture(jax.random.key(1)))
  np.testing.assert_array_equal(optical_flow(frames, frames), 0.0)
  moved = _frames(warp(_texture(jax.random.key(1)), jnp.ones((2, 64, 64, 2))))
  grad = jax.grad(lambda b: jnp.sum(optical_flow(frames, b)))(moved)
  assert np.isfinite(grad).all() and np.abs(grad).sum() > 0


@pytest.mark.parametrize("shape_a,shape_b,levels,message", [
    ((2, 32, 32, 3), (2, 30, 32, 3), 3, "of one shape"),
    ((2, 30, 32, 3), (2, 30, 32, 3), 3, "must be multiples of 4, got 30x32"),
    ((2, 32, 32, 3), (2, 32, 32, 3), 0, "levels >= 1"),
])
def test_inputs_the_pyramid_cannot_take_are_one_clear_error(shape_a, shape_b, levels, message):
  with pytest.raises(ValueError, match=message):
    optical_flow(jnp.zeros(shape_a), jnp.zeros(shape_b), levels=levels)

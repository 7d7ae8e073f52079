"""Optical flow between frames, differentiable, for motion losses.

Horn-Schunck (1981) with a coarse-to-fine pyramid and warping: at each level
the second frame is warped by the flow so far, and a fixed number of Jacobi
iterations solve for the remaining small displacement. Every operation is a
pure jnp function of the frames, so `jax.grad` flows through the estimate into
a generator that drew them.

    flow = optical_flow(frame_a, frame_b)    # (N, H, W, C) in [-1, 1] -> (N, H, W, 2)

flow[..., 0] is the x (column) displacement and flow[..., 1] the y (row)
displacement, in pixels: frame_b(y + v, x + u) ~ frame_a(y, x).
"""

import jax
import jax.numpy as jnp
from jax.scipy.ndimage import map_coordinates

# 3x3 kernels as Python floats: a jnp array here would start JAX's backend at
# import, before a multi-process run can call jax.distributed.initialize.
# Horn and Schunck's neighbourhood average (the centre excluded).
_AVERAGE = ((1 / 12, 1 / 6, 1 / 12), (1 / 6, 0.0, 1 / 6), (1 / 12, 1 / 6, 1 / 12))
# Central differences along x and along y.
_DX = ((0.0, 0.0, 0.0), (-0.5, 0.0, 0.5), (0.0, 0.0, 0.0))
_DY = ((0.0, -0.5, 0.0), (0.0, 0.0, 0.0), (0.0, 0.5, 0.0))


def _filter(x, kernel):
  """x (N, H, W) correlated with a 3x3 kernel, edges replicated."""
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
  h, w = x.shape[1:]
  return sum(kernel[i][j] * padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)
             if kernel[i][j])


def warp(image, flow):
  """image (N, H, W) sampled at (y + v, x + u), bilinear, edges clamped -> (N, H, W)."""
  h, w = image.shape[1:]
  ys, xs = jnp.meshgrid(jnp.arange(h, dtype=image.dtype), jnp.arange(w, dtype=image.dtype),
                        indexing="ij")

  def one(img, f):
    return map_coordinates(img, [ys + f[..., 1], xs + f[..., 0]], order=1, mode="nearest")
  return jax.vmap(one)(image, flow)


def _refine(a, b, flow, alpha: float, iterations: int):
  """Horn-Schunck on (a, b warped by flow): flow + the increment, (N, H, W, 2)."""
  b = warp(b, flow)
  mean = 0.5 * (a + b)
  ix, iy, it = _filter(mean, _DX), _filter(mean, _DY), b - a
  denominator = alpha ** 2 + ix ** 2 + iy ** 2

  def step(_, uv):
    u, v = _filter(uv[0], _AVERAGE), _filter(uv[1], _AVERAGE)
    residual = (ix * u + iy * v + it) / denominator
    return jnp.stack([u - ix * residual, v - iy * residual])

  du = jax.lax.fori_loop(0, iterations, step, jnp.zeros((2,) + a.shape, a.dtype))
  return flow + jnp.moveaxis(du, 0, -1)


def _half(x):
  """(N, H, W) -> (N, H / 2, W / 2), 2x2 means."""
  return x.reshape(x.shape[0], x.shape[1] // 2, 2, x.shape[2] // 2, 2).mean((2, 4))


def optical_flow(frame_a, frame_b, levels: int = 3, iterations: int = 100, alpha: float = 0.2):
  """frame_a, frame_b (N, H, W, C) in [-1, 1] -> flow (N, H, W, 2) in pixels.

  levels: pyramid levels (each halves H and W; displacements up to about
  2 ** (levels - 1) pixels are found); iterations: Jacobi steps per level;
  alpha: smoothness weight (intensities in [0, 1]); larger suits smooth,
  rigid motion (tests/test_flow.py measures the error on known translations).
  """
  if frame_a.shape != frame_b.shape or frame_a.ndim != 4:
    raise ValueError(f"optical_flow takes two frame batches of one shape (N, H, W, C), got "
                     f"{frame_a.shape} and {frame_b.shape}")
  if levels < 1 or iterations < 0:
    raise ValueError(f"optical_flow needs levels >= 1 and iterations >= 0, got {levels} and "
                     f"{iterations}")
  scale = 2 ** (levels - 1)
  if frame_a.shape[1] % scale or frame_a.shape[2] % scale:
    raise ValueError(f"optical_flow with levels={levels} halves H and W {levels - 1} times: "
                     f"they must be multiples of {scale}, got {frame_a.shape[1]}x"
                     f"{frame_a.shape[2]}")
  gray = lambda f: (f.mean(axis=-1) + 1.0) / 2.0
  pyramid = [(gray(frame_a), gray(frame_b))]
  for _ in range(levels - 1):
    pyramid.append(tuple(map(_half, pyramid[-1])))
  coarsest = pyramid[-1][0]
  flow = jnp.zeros(coarsest.shape + (2,), coarsest.dtype)
  for level, (a, b) in enumerate(reversed(pyramid)):
    if level:  # up one level: twice the size, twice the displacement
      flow = 2.0 * jnp.repeat(jnp.repeat(flow, 2, axis=1), 2, axis=2)
    flow = _refine(a, b, flow, alpha, iterations)
  return flow

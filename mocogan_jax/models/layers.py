"""Convolutions with PyTorch semantics and a backend-chosen implementation.

Layouts are channels-last: images (N, H, W, C), videos (N, T, H, W, C); kernels
(kh, kw, C_in, C_out) and (kt, kh, kw, C_in, C_out). Transposed convolutions
follow PyTorch's ConvTranspose2d: output index o receives x[i] * w[o + p - s*i].

Two implementations compute the same function:
- "native": XLA's own convolutions. Used on GPU and TPU, where they are fast.
- "matmul" (the CPU form): strided 2D convolutions as shifted slices + one
  matrix product (im2col); the 3D convolution as XLA's 2D convolution over time
  taps stacked into channels; the stride-2 transposed convolution as four
  sub-pixel matrix products. XLA:CPU runs its built-in transposed and 3D
  convolutions (with their gradients) 3-150x slower than these; for the plain
  strided 2D convolutions the two are close (experiments/RESULTS.md,
  experiments/benchmark_convolutions.py).
"auto" picks "matmul" on the CPU and "native" elsewhere. Tests check both agree.
"""

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

IMPLS = ("auto", "native", "matmul")


def impl_for(platform: str) -> str:
  """What "auto" means on `platform` ("cpu", "tpu", "gpu"...)."""
  return "matmul" if platform == "cpu" else "native"


def resolve_impl(impl: str) -> str:
  """`impl`, with "auto" read from the default backend: the platform the
  program runs on, except when compiling for devices this process does not
  have (aot.for_devices resolves it from those before tracing)."""
  if impl not in IMPLS:
    raise ValueError(f"conv_impl must be one of {IMPLS}, got {impl!r}")
  if impl == "auto":
    return impl_for(jax.default_backend())
  return impl


def _im2col_conv2d(x, w, stride, padding):
  """x (N, H, W, C), w (k, k, C, O) -> (N, Ho, Wo, O) as one matmul."""
  kh, kw, c, o = w.shape
  x = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
  ho = (x.shape[1] - kh) // stride + 1
  wo = (x.shape[2] - kw) // stride + 1
  taps = [
      x[:, dy:dy + stride * (ho - 1) + 1:stride, dx:dx + stride * (wo - 1) + 1:stride, :]
      for dy in range(kh) for dx in range(kw)
  ]
  patches = jnp.concatenate(taps, axis=-1)  # (N, Ho, Wo, kh*kw*C), tap-major
  return patches @ w.reshape(kh * kw * c, o)


def conv2d(x, w, stride: int, padding: int, impl: str):
  """Conv2d, no bias. x (N, H, W, C), w (k, k, C, O) -> (N, Ho, Wo, O)."""
  if resolve_impl(impl) == "matmul":
    return _im2col_conv2d(x, w, stride, padding)
  return jax.lax.conv_general_dilated(
      x, w, (stride, stride), [(padding, padding)] * 2,
      dimension_numbers=("NHWC", "HWIO", "NHWC"))


def conv3d(x, w, stride: Sequence[int], padding: Sequence[int], impl: str):
  """Conv3d, no bias. x (N, T, H, W, C), w (kt, k, k, C, O) -> (N, To, Ho, Wo, O).

  stride = (st, s, s), padding = (pt, p, p): MoCoGAN strides 1 in time, VGAN
  and TGAN 2.
  """
  st, s, s2 = stride
  pt, p, p2 = padding
  if s != s2 or p != p2:
    raise ValueError(f"conv3d supports stride (st, s, s) and padding (pt, p, p), got {stride}, {padding}")
  if resolve_impl(impl) == "native":
    return jax.lax.conv_general_dilated(
        x, w, (st, s, s), [(pt, pt), (p, p), (p, p)],
        dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))
  kt, kh, kw, c, o = w.shape
  x = jnp.pad(x, ((0, 0), (pt, pt), (0, 0), (0, 0), (0, 0)))
  n, t = x.shape[:2]
  to = (t - kt) // st + 1
  # Frame t of the output sees frames st*t .. st*t+kt-1: stack them into channels.
  stacked = jnp.concatenate([x[:, k:k + st * (to - 1) + 1:st] for k in range(kt)], axis=-1)
  stacked = stacked.reshape((n * to,) + stacked.shape[2:])
  w2d = jnp.transpose(w, (1, 2, 0, 3, 4)).reshape(kh, kw, kt * c, o)
  # Once the time axis is folded away, XLA:CPU's own 2D convolution beat im2col
  # here (fwd + bwd of the official video D's first three layers: 350 vs 520 ms).
  y = conv2d(stacked, w2d, s, p, "native")
  return y.reshape((n, to) + y.shape[1:])


def conv_transpose3d(x, w, stride: Sequence[int], padding: Sequence[int], impl: str):
  """PyTorch ConvTranspose3d, no bias. x (N, T, H, W, C), w (kt, k, k, C, O),
  stride (st, s, s), padding (pt, p, p). Output time (T - 1) * st - 2 pt + kt,
  space as conv_transpose2d."""
  st, s, _ = stride
  pt, p, _ = padding
  kt = w.shape[0]
  if resolve_impl(impl) == "native":
    k = w.shape[1]
    return jax.lax.conv_general_dilated(
        x, jnp.flip(w, (0, 1, 2)), (1, 1, 1),
        [(kt - 1 - pt, kt - 1 - pt)] + [(k - 1 - p, k - 1 - p)] * 2,
        lhs_dilation=(st, s, s), dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))
  # In time, the direct form: dilate by st, pad by kt - 1 - pt, and let output
  # frame o take frames o .. o + kt - 1 with the kernel flipped in time; those
  # taps go into channels of one 2D transposed convolution (its CPU form).
  n, t, h, wd, c = x.shape
  dilated = jnp.zeros((n, (t - 1) * st + 1, h, wd, c), x.dtype).at[:, ::st].set(x)
  dilated = jnp.pad(dilated, ((0, 0), (kt - 1 - pt, kt - 1 - pt), (0, 0), (0, 0), (0, 0)))
  to = (t - 1) * st - 2 * pt + kt
  stacked = jnp.concatenate([dilated[:, j:j + to] for j in range(kt)], axis=-1)
  w2d = jnp.transpose(jnp.flip(w, 0), (1, 2, 0, 3, 4)).reshape(w.shape[1], w.shape[2], kt * c, -1)
  y = conv_transpose2d(stacked.reshape((n * to, h, wd, kt * c)), w2d, s, p, impl)
  return y.reshape((n, to) + y.shape[1:])


def conv_transpose1d(x, w, stride: int, padding: int):
  """PyTorch ConvTranspose1d, no bias. x (N, L, C), w (k, C, O) -> (N, L', O),
  L' = (L - 1) * stride - 2 * padding + k. XLA's own form everywhere: TGAN's
  temporal generator, its one user, is a few thousand FLOPs per video."""
  k = w.shape[0]
  return jax.lax.conv_general_dilated(
      x, jnp.flip(w, 0), (1,), [(k - 1 - padding, k - 1 - padding)], lhs_dilation=(stride,),
      dimension_numbers=("NWC", "WIO", "NWC"))


# Below this many output channels the sub-pixel GEMMs are too thin: XLA:CPU's own
# dilated convolution was 3x faster for the generator's RGB layer (58x32x32x64 -> 3).
_MIN_GEMM_COLUMNS = 16


def conv_transpose2d(x, w, stride: int, padding: int, impl: str):
  """PyTorch ConvTranspose2d, no bias. x (N, H, W, C), w (k, k, C, O).

  Output size (H - 1) * stride - 2 * padding + k.
  """
  k = w.shape[0]
  impl = resolve_impl(impl)
  if impl == "matmul" and x.shape[1] == x.shape[2] == 1 and stride == 1 and padding == 0:
    # From a 1x1 latent the transposed conv is a dense layer: out[y, x] = z @ w[y, x].
    n, c, o = x.shape[0], w.shape[2], w.shape[3]
    y = x.reshape(n, c) @ jnp.transpose(w, (2, 0, 1, 3)).reshape(c, k * k * o)
    return y.reshape(n, k, k, o)
  if impl == "matmul" and (k, stride, padding) == (4, 2, 1) and w.shape[3] >= _MIN_GEMM_COLUMNS:
    return _subpixel_conv_transpose_4x2(x, w)
  # Direct form: dilate the input by the stride and correlate with the flipped kernel.
  return jax.lax.conv_general_dilated(
      x, jnp.flip(w, (0, 1)), (1, 1), [(k - 1 - padding, k - 1 - padding)] * 2,
      lhs_dilation=(stride, stride), dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _subpixel_conv_transpose_4x2(x, w):
  """ConvTranspose(k=4, s=2, p=1) as four 2x2 convolutions, one per output phase.

  Output row 2m + a takes input rows m - 1 + a + d (d = 0, 1) with kernel row
  a + 3 - 2 (a + d), and the same for columns; no multiplications by the zeros a
  dilated input would hold.
  """
  n, h, wd, c = x.shape
  o = w.shape[3]
  xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  rows = []
  for a in range(2):
    cols = []
    for b in range(2):
      taps, kernels = [], []
      for dy in (a, a + 1):
        for dx in (b, b + 1):
          taps.append(xp[:, dy:dy + h, dx:dx + wd, :])
          kernels.append(w[a + 3 - 2 * dy, b + 3 - 2 * dx])
      patches = jnp.concatenate(taps, axis=-1)  # (N, H, W, 4C)
      cols.append(patches @ jnp.concatenate(kernels, axis=0))  # (N, H, W, O)
    rows.append(jnp.stack(cols, axis=3))  # (N, H, W, 2, O)
  y = jnp.stack(rows, axis=2)  # (N, H, 2, W, 2, O)
  return y.reshape(n, 2 * h, 2 * wd, o)


def torch_uniform(bound: float):
  """PyTorch's default init for conv and GRU weights: U(-bound, bound)."""
  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)
  return init


def _add_bias(module: nn.Module, y, fan_in: int):
  """y + a per-channel bias, PyTorch's default init U(-1/sqrt(fan_in), ...)."""
  return y + module.param("bias", torch_uniform(fan_in ** -0.5), (y.shape[-1],)).astype(y.dtype)


class Conv2d(nn.Module):
  """Conv2d with PyTorch's default initialisation; bias-free unless use_bias
  (MoCoGAN's networks have none: BatchNorm follows most of their convs)."""
  features: int
  kernel_size: int = 4
  stride: int = 2
  padding: int = 1
  impl: str = "auto"
  use_bias: bool = False
  dtype: Any = jnp.float32  # the computation's; parameters stay float32

  @nn.compact
  def __call__(self, x):
    fan_in = x.shape[-1] * self.kernel_size ** 2
    w = self.param("kernel", torch_uniform(fan_in ** -0.5),
                   (self.kernel_size, self.kernel_size, x.shape[-1], self.features))
    y = conv2d(x.astype(self.dtype), w.astype(self.dtype), self.stride, self.padding, self.impl)
    return _add_bias(self, y, fan_in) if self.use_bias else y


class Conv3d(nn.Module):
  """Conv3d (cubic kernel, stride (1, s, s)) with PyTorch's default init;
  bias-free unless use_bias."""
  features: int
  kernel_size: int = 4
  stride: int = 2
  padding: int = 1
  time_padding: int = 0
  impl: str = "auto"
  use_bias: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    k = self.kernel_size
    fan_in = x.shape[-1] * k ** 3
    w = self.param("kernel", torch_uniform(fan_in ** -0.5), (k, k, k, x.shape[-1], self.features))
    y = conv3d(x.astype(self.dtype), w.astype(self.dtype), (1, self.stride, self.stride),
               (self.time_padding, self.padding, self.padding), self.impl)
    return _add_bias(self, y, fan_in) if self.use_bias else y


class ConvTranspose2d(nn.Module):
  """Bias-free ConvTranspose2d with PyTorch's default initialisation.

  PyTorch computes the fan-in of a transposed conv from its output channels.
  """
  features: int
  kernel_size: int = 4
  stride: int = 2
  padding: int = 1
  impl: str = "auto"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    k = self.kernel_size
    w = self.param("kernel", torch_uniform((self.features * k * k) ** -0.5),
                   (k, k, x.shape[-1], self.features))
    return conv_transpose2d(x.astype(self.dtype), w.astype(self.dtype), self.stride,
                            self.padding, self.impl)


def batch_norm(train: bool, dtype=jnp.float32):
  """BatchNorm with PyTorch's defaults (momentum 0.1 there is 0.9 here, eps 1e-5).
  Its statistics are reduced in float32 whatever `dtype` (flax's default), and
  its scale, bias and running averages stay float32; the output is `dtype`."""
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=dtype)


class SelfAttention(nn.Module):
  """SAGAN's non-local block (Zhang et al. 2019): x + gamma * attention(x).

  x (N, ..., C), every position of an example (pixels, or frames x pixels)
  attending to every other -> the same shape. Queries and keys have C / 8
  channels; gamma starts at 0, so a network with the block computes at
  initialisation what it computes without it.
  """
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    n, c = x.shape[0], x.shape[-1]
    tokens = x.reshape(n, -1, c).astype(self.dtype)
    dense = lambda features, name: nn.Dense(features, dtype=self.dtype, name=name)(tokens)
    query, key = dense(max(c // 8, 1), "query"), dense(max(c // 8, 1), "key")
    weights = jax.nn.softmax(jnp.einsum("nqd,nkd->nqk", query, key).astype(jnp.float32), axis=-1)
    attended = jnp.einsum("nqk,nkc->nqc", weights.astype(self.dtype), dense(c, "value"))
    gamma = self.param("gamma", nn.initializers.zeros, ())
    return x + (gamma * attended.reshape(x.shape)).astype(x.dtype)


class Conv(nn.Module):
  """A convolution or transposed convolution over time, space or both, with
  the kernel initialiser of the network it belongs to (VGAN's and TGAN's
  published inits are not PyTorch's). Square in space.

  kernel: (k,) in time over (N, L, C); (k, k) over images (N, H, W, C);
    (kt, k, k) over videos (N, T, H, W, C). Kernels are kernel + (C_in, C_out).
  stride, padding: one int per kernel dimension, as kernel.
  transpose: PyTorch's ConvTranspose (1D only as transpose).
  """
  features: int
  kernel: Sequence[int]
  stride: Sequence[int]
  padding: Sequence[int]
  transpose: bool = False
  use_bias: bool = True
  kernel_init: Any = nn.initializers.normal(0.02)
  impl: str = "auto"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    w = self.param("kernel", self.kernel_init, (*self.kernel, x.shape[-1], self.features))
    x, w = x.astype(self.dtype), w.astype(self.dtype)
    stride, padding = tuple(self.stride), tuple(self.padding)
    if len(self.kernel) == 3:
      op = conv_transpose3d if self.transpose else conv3d
      y = op(x, w, stride, padding, self.impl)
    elif len(self.kernel) == 2:
      op = conv_transpose2d if self.transpose else conv2d
      y = op(x, w, stride[0], padding[0], self.impl)
    elif self.transpose:
      y = conv_transpose1d(x, w, stride[0], padding[0])
    else:
      raise ValueError("a 1D Conv is transposed only (TGAN's temporal generator)")
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (self.features,)).astype(y.dtype)
    return y

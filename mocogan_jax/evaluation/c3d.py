"""The UCF101 Inception Score of TGAN and MoCoGAN: C3D fine-tuned on UCF101.

The paper's UCF101 numbers (MoCoGAN 12.42) come from TGAN's Chainer code: C3D
(Sports-1M, fine-tuned on UCF101, 101 classes) on 16 frames, each resized to
128x128 with OpenCV's INTER_CUBIC, turned to BGR, minus the mean clip, centre
crop 112x112; the score is exp(E KL(p(y|x) || p(y))) of its softmax.

Its weights are not downloaded by this project. Put the two files of the TGANv2
release (github.com/rezoo/tgan2, release v1.0) in one folder:

    conv3d_deepnetA_ucf.npz   Chainer C3DVersion1: conv1a ... conv5b, fc6, fc7, fc8,
                              each "<layer>/W" (out, in, kt, kh, kw) or (out, in),
                              and "<layer>/b"
    mean2.npz                 "mean": the mean clip, 3 x 16 x 128 x 171, BGR

and pass the folder: `mocogan-jax evaluate --metrics is_c3d --c3d FOLDER`.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np

from mocogan_jax.errors import ConfigError

WEIGHTS, MEAN = "conv3d_deepnetA_ucf.npz", "mean2.npz"
CONVS = ("conv1a", "conv2a", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b")
POOL_AFTER = {"conv1a": (1, 2, 2), "conv2a": (2, 2, 2), "conv3b": (2, 2, 2),
              "conv4b": (2, 2, 2), "conv5b": (2, 2, 2)}
DENSES = ("fc6", "fc7", "fc8")
FRAMES, RESIZED, CROP = 16, 128, 112


def cubic_resize_matrix(in_size: int, out_size: int = RESIZED, a: float = -0.75) -> np.ndarray:
  """(out, in) weights of OpenCV's INTER_CUBIC along one axis: half-pixel
  centres, Keys' kernel with a = -0.75, edge pixels repeated."""
  coords = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
  base = np.floor(coords).astype(np.int64)
  t = coords - base
  weights = np.stack([
      ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
      ((a + 2) * t - (a + 3)) * t * t + 1,
      ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
  ], axis=1)
  weights = np.concatenate([weights, 1 - weights.sum(1, keepdims=True)], axis=1)
  matrix = np.zeros((out_size, in_size), np.float64)
  for tap in range(4):
    np.add.at(matrix, (np.arange(out_size), np.clip(base - 1 + tap, 0, in_size - 1)),
              weights[:, tap])
  return matrix.astype(np.float32)


def load(folder: str) -> dict:
  """{"params": {layer: {"kernel", "bias"}}, "mean": (16, 112, 112, 3) BGR}
  from the two TGANv2 files in `folder`, laid out channels-last."""
  paths = [os.path.join(folder or "", name) for name in (WEIGHTS, MEAN)]
  missing = [p for p in paths if not os.path.isfile(p)]
  if not folder or missing:
    raise ConfigError(f"is_c3d needs --c3d FOLDER holding {WEIGHTS} and {MEAN} (TGANv2 "
                      f"release v1.0); missing {', '.join(missing) or 'the folder'}")
  try:
    weights, mean = np.load(paths[0]), np.load(paths[1])["mean"]
    params = {}
    for name in CONVS:  # (O, I, kt, kh, kw) -> (kt, kh, kw, I, O)
      params[name] = {"kernel": np.transpose(weights[f"{name}/W"], (2, 3, 4, 1, 0)),
                      "bias": weights[f"{name}/b"]}
    for name in DENSES:
      params[name] = {"kernel": np.transpose(weights[f"{name}/W"]), "bias": weights[f"{name}/b"]}
    mean = np.asarray(mean, np.float32).reshape(3, FRAMES, RESIZED, -1)
  except (KeyError, ValueError, OSError) as e:
    raise ConfigError(f"{folder}: not the TGANv2 C3D files ({e})") from None
  offset = (mean.shape[-1] - RESIZED) // 2  # 171 -> the centre 128 columns
  mean = mean[..., offset:offset + RESIZED].transpose(1, 2, 3, 0)
  border = (RESIZED - CROP) // 2
  return {"params": params, "mean": mean[:, border:border + CROP, border:border + CROP]}


def preprocess(videos, mean):
  """uint8 (N, 16, H, W, 3) RGB -> float32 (N, 16, 112, 112, 3): resized to
  128x128 (INTER_CUBIC), BGR, minus the mean clip, centre 112x112."""
  x = jnp.asarray(videos, jnp.float32)
  rows = jnp.asarray(cubic_resize_matrix(x.shape[2]))
  cols = jnp.asarray(cubic_resize_matrix(x.shape[3]))
  x = jnp.einsum("ih,nthwc->ntiwc", rows, x, precision="highest")
  x = jnp.einsum("jw,ntiwc->ntijc", cols, x, precision="highest")
  border = (RESIZED - CROP) // 2
  return x[:, :, border:border + CROP, border:border + CROP, ::-1] - mean


def _max_pool_ceil(x, window):
  """Chainer's max_pooling_nd (stride = window, cover_all): a partial last
  window counts, so an odd side of 7 pools to 4."""
  pad = [(0, 0)] + [(0, -n % w) for n, w in zip(x.shape[1:4], window)] + [(0, 0)]
  return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, *window, 1), (1, *window, 1), pad)


def logits(params, x):
  """Preprocessed (N, 16, 112, 112, 3) -> (N, 101) logits (fc8)."""
  for name in CONVS:
    x = jax.lax.conv_general_dilated(x, params[name]["kernel"], (1, 1, 1), [(1, 1)] * 3,
                                     dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))
    x = jax.nn.relu(x + params[name]["bias"])
    if name in POOL_AFTER:
      x = _max_pool_ceil(x, POOL_AFTER[name])
  # Chainer flattens channels-first: (N, C, T, H, W).
  x = jnp.transpose(x, (0, 4, 1, 2, 3)).reshape(x.shape[0], -1)
  x = jax.nn.relu(x @ params["fc6"]["kernel"] + params["fc6"]["bias"])
  x = jax.nn.relu(x @ params["fc7"]["kernel"] + params["fc7"]["bias"])
  return x @ params["fc8"]["kernel"] + params["fc8"]["bias"]


def probabilities(variables, videos):
  """variables from load(); uint8 (N, 16, H, W, 3) -> (N, 101) softmax. Jit it."""
  return jax.nn.softmax(logits(variables["params"], preprocess(videos, variables["mean"])), -1)

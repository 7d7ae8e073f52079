"""Encoders into MoCoGAN's latent space: real videos -> (content, motion, category).

    codes = mocogan.encoder(config).apply(variables, videos, train=False)
    frames = mocogan.generator(config).apply(g_vars, codes["content"],
                                             codes["category"], codes["motion"],
                                             train=False, method="decode")

Content encoder E_c: each frame -> a z_content estimate; the video's code is
their mean over frames (`content_from="average"`, the default) or the first
frame's (`"first"`). Content is constant over a MoCoGAN video, so averaging
T estimates cancels the errors any one frame makes (measured in
experiments/RESULTS.md, "Encoders").

Motion encoder E_m: the pair (x_{t-1}, x_t) -> h_t, the motion RNN's state
that generated frame t (the first frame is paired with itself), so the RNN can
continue from the last encoded state.

Category head (K > 0): its own trunk over the same frame pairs, features
averaged over time, then class logits; `category` is their softmax, fed to the
generator in place of a one-hot. The category is the action (the paper's z_A
belongs to the motion subspace), and an orderless pool of single frames cannot
tell it: a clip played backwards has the same frames but moves the other way.
Sharing the motion trunk halved the speed of the motion regression in
tests/test_encoding.py's tiny setting, hence a trunk of its own.

All trunks: Conv2d(k4, s2, p1) blocks down to 4x4 (width ndf doubling, capped
at 8x), BatchNorm after the first, LeakyReLU 0.2, then a linear layer.
"""

import math

import jax
import jax.numpy as jnp
from flax import linen as nn

from mocogan_jax.models.layers import Conv2d, batch_norm

CONTENT_FROM = ("average", "first")


class ImageTrunk(nn.Module):
  """images (M, S, S, C') -> features (M, 16 * width_last)."""
  ndf: int
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x, train: bool):
    for i in range(int(math.log2(x.shape[1])) - 2):
      x = Conv2d(self.ndf * min(2 ** i, 8), 4, 2, 1, self.conv_impl)(x)
      if i:
        x = batch_norm(train)(x)
      x = nn.leaky_relu(x, 0.2)
    return x.reshape(x.shape[0], -1)


class VideoEncoder(nn.Module):
  """videos float (N, T, S, S, C) in [-1, 1] -> {"content" (N, dc), the
  per-frame estimates "content_frames" (N, T, dc), "motion" (N, T, dm),
  "category" (N, K) probabilities, "category_logits"}."""
  ndf: int
  dim_z_content: int
  dim_z_motion: int
  n_categories: int
  content_from: str = "average"
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, videos, train: bool):
    trunk = lambda name: ImageTrunk(self.ndf, self.conv_impl, name=name)
    n, t = videos.shape[:2]
    frames = videos.reshape((n * t,) + videos.shape[2:])
    content_features = trunk("content_trunk")(frames, train)
    per_frame = nn.Dense(self.dim_z_content, name="content_head")(content_features)
    per_frame = per_frame.reshape(n, t, -1)
    content = per_frame[:, 0] if self.content_from == "first" else per_frame.mean(axis=1)

    previous = jnp.concatenate([videos[:, :1], videos[:, :-1]], axis=1)
    pairs = jnp.concatenate([previous, videos], axis=-1).reshape((n * t,) + frames.shape[1:-1]
                                                                 + (2 * videos.shape[-1],))
    motion_features = trunk("motion_trunk")(pairs, train)
    motion = nn.Dense(self.dim_z_motion, name="motion_head")(motion_features).reshape(n, t, -1)

    codes = {"content": content, "content_frames": per_frame, "motion": motion}
    if self.n_categories:
      action_features = trunk("action_trunk")(pairs, train)
      pooled = action_features.reshape(n, t, -1).mean(axis=1)
      logits = nn.Dense(self.n_categories, name="category_head")(pooled)
      codes |= {"category_logits": logits, "category": jax.nn.softmax(logits, axis=-1)}
    else:
      codes["category"] = jnp.zeros((n, 0), videos.dtype)
    return codes

"""The metrics themselves: pure functions of features, probabilities or pixels.

Distances between feature sets are computed in float64 with numpy: the FVD
statistics are 400x400 covariances whose square-root trace loses digits in
float32 (FD(X, X) came out at -0.018), and they are cheap next to the I3D pass.
"""

import jax.numpy as jnp
import numpy as np


# ---------------------------------------------------------------------------
# Distances between two sets of features (FVD, KVD).
# ---------------------------------------------------------------------------

def gaussian_statistics(features) -> tuple[np.ndarray, np.ndarray]:
  """features (N, D) -> mean (D,), covariance (D, D) with N - 1, in float64."""
  x = np.asarray(features, np.float64)
  if x.ndim != 2 or x.shape[0] < 2:
    raise ValueError(f"need features of shape (N >= 2, D), got {x.shape}")
  return x.mean(axis=0), np.cov(x, rowvar=False)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
  eigenvalues, vectors = np.linalg.eigh(matrix)
  return (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ vectors.T


def frechet_distance(features_a, features_b) -> float:
  """Fréchet distance between Gaussians fitted to (N, D) and (M, D) features:
  |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

  Tr (S_a S_b)^(1/2) is the sum of the square roots of the eigenvalues of the
  symmetric matrix S_a^(1/2) S_b S_a^(1/2) (similar to S_a S_b): two symmetric
  eigen-decompositions, exact and stable, where an iterative matrix square
  root can fail or return complex noise.
  """
  mu_a, cov_a = gaussian_statistics(features_a)
  mu_b, cov_b = gaussian_statistics(features_b)
  root_a = _sqrt_psd(cov_a)
  middle = root_a @ cov_b @ root_a
  middle = (middle + middle.T) / 2
  trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None)).sum()
  return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
               - 2.0 * trace_sqrt)


def kernel_distance(features_a, features_b) -> float:
  """Unbiased squared MMD with the cubic polynomial kernel k(x, y) = (x.y / D + 1)^3
  over the whole of both sets (the KID estimator; KVD on I3D features)."""
  a = np.asarray(features_a, np.float64)
  b = np.asarray(features_b, np.float64)
  m, n, d = a.shape[0], b.shape[0], a.shape[1]
  if m < 2 or n < 2:
    raise ValueError("kernel_distance needs at least 2 features in each set")
  k_aa = (a @ a.T / d + 1.0) ** 3
  k_bb = (b @ b.T / d + 1.0) ** 3
  k_ab = (a @ b.T / d + 1.0) ** 3
  return float((k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))
               + (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
               - 2.0 * k_ab.mean())


# ---------------------------------------------------------------------------
# Classifier-based (MCS, IS).
# ---------------------------------------------------------------------------

def accuracy(probabilities, labels) -> float:
  """probabilities (N, K), labels (N,) -> the fraction whose argmax is the label."""
  return float(np.mean(np.argmax(np.asarray(probabilities), axis=-1) == np.asarray(labels)))


def inception_score(probabilities, splits: int = 10) -> tuple[float, float]:
  """exp(E_x KL(p(y|x) || p(y))) over `splits` equal parts of (N, K)
  probabilities; returns (mean, std) over the parts, as the image IS does."""
  p = np.asarray(probabilities, np.float64)
  splits = max(1, min(splits, p.shape[0]))
  scores = []
  for part in np.array_split(p, splits):
    marginal = part.mean(axis=0, keepdims=True)
    kl = np.sum(part * (np.log(part + 1e-12) - np.log(marginal + 1e-12)), axis=1)
    scores.append(np.exp(kl.mean()))
  return float(np.mean(scores)), float(np.std(scores))


# ---------------------------------------------------------------------------
# Average content distance (ACD), per video.
# ---------------------------------------------------------------------------

def mean_pairwise_distance(frame_features) -> np.ndarray:
  """(N, T, D) per-frame features -> (N,) mean L2 distance over the T(T-1)/2
  frame pairs; NaN rows (frames without a feature) are left out of their video,
  and a video with fewer than two valid frames gives NaN."""
  f = np.asarray(frame_features, np.float64)
  out = np.full(f.shape[0], np.nan)
  for i, frames in enumerate(f):
    frames = frames[~np.isnan(frames).any(axis=-1)]
    if len(frames) < 2:
      continue
    diff = np.linalg.norm(frames[:, None] - frames[None, :], axis=-1)
    out[i] = diff[np.triu_indices(len(frames), 1)].mean()
  return out


SHAPE_THRESHOLD = 48  # of 255; shape_motion colours have every channel >= 64


def shape_colours(videos, threshold: int = SHAPE_THRESHOLD) -> np.ndarray:
  """uint8 (N, T, S, S, C) -> (N, T, C) mean colour (0..255) of each frame's
  shape pixels: those whose brightest channel exceeds `threshold` on the black
  background of shape_motion. NaN for a frame with no such pixel."""
  v = np.asarray(videos, np.float64)
  mask = v.max(axis=-1, keepdims=True) > threshold  # (N, T, S, S, 1)
  count = mask.sum(axis=(2, 3))  # (N, T, 1)
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(count > 0, (v * mask).sum(axis=(2, 3)) / count, np.nan)


def shape_displacements(videos, threshold: int = SHAPE_THRESHOLD) -> np.ndarray:
  """uint8 (N, T, S, S, C) -> (N, 2) (dx, dy) in pixels: how far each video's
  bright-pixel centroid (brightness-weighted, pixels above `threshold`) moves
  from the first frame to the last. 0 for a frame with no such pixel."""
  v = np.asarray(videos, np.float64).max(axis=-1)  # (N, T, S, S)
  v = v * (v > threshold)
  ys, xs = np.mgrid[:v.shape[2], :v.shape[3]]
  def centroid(w):  # (N, S, S) -> (N, 2) as (x, y)
    total = np.maximum(w.sum(axis=(1, 2)), 1e-9)
    return np.stack([(w * xs).sum(axis=(1, 2)), (w * ys).sum(axis=(1, 2))], -1) / total[:, None]
  return centroid(v[:, -1]) - centroid(v[:, 0])


def shape_directions(videos, threshold: int = SHAPE_THRESHOLD) -> np.ndarray:
  """uint8 (N, T, S, S, C) -> (N,) the shape_motion motion label (0 right,
  1 left, 2 down, 3 up) of each video's shape: the larger axis of its
  `shape_displacements`."""
  dx, dy = np.moveaxis(shape_displacements(videos, threshold), -1, 0)
  horizontal = np.where(dx > 0, 0, 1)
  vertical = np.where(dy > 0, 2, 3)
  return np.where(np.abs(dx) >= np.abs(dy), horizontal, vertical)


def direction_agreement(directions, categories) -> float:
  """directions (N,) motion labels, categories (N,) the generator's categories
  -> the share of videos moving in their category's most common direction (1
  when each category has one direction)."""
  directions, categories = np.asarray(directions), np.asarray(categories)
  agree = sum(np.bincount(directions[categories == c]).max() for c in np.unique(categories))
  return float(agree / len(directions))


def distinct_pairs(a_colours, b_colours, a_directions, b_directions) -> np.ndarray:
  """(N,) bool: the pairs worth a transfer test, whose directions differ and
  whose colours (N, 3), 0..255, differ by 64 or more on some channel (a NaN
  colour, an unreadable video, never qualifies)."""
  gap = np.abs(np.asarray(a_colours, np.float64) - np.asarray(b_colours, np.float64)).max(-1)
  return (np.asarray(a_directions) != np.asarray(b_directions)) & (gap >= 64)


def transfer_scores(moved, a_colours, b_colours, a_directions, b_directions) -> dict:
  """How well shape_motion videos moved = (content of A, motion of B) did:
  moved uint8 (N, T, S, S, 3); the colours (N, 3) and directions (N,) of A
  and B. Returns the fraction of videos whose shape colour is nearer A's than
  B's, those moving in B's and in A's direction, and the mean colour distance
  to A's (0..255; NaN-safe: a video without a visible shape counts as neither
  colour)."""
  colours = np.nanmean(shape_colours(moved), axis=1)  # (N, 3)
  to_a = np.linalg.norm(colours - a_colours, axis=-1)
  to_b = np.linalg.norm(colours - b_colours, axis=-1)
  directions = shape_directions(moved)
  return {"pairs": len(moved), "colour_of_a": float(np.mean(to_a < to_b)),
          "direction_of_b": float(np.mean(directions == b_directions)),
          "direction_of_a": float(np.mean(directions == a_directions)),
          "colour_error": float(np.nanmean(to_a))}


def shape_colour_acd(videos, threshold: int = SHAPE_THRESHOLD) -> np.ndarray:
  """The MoCoGAN paper's ACD for shape motion, per video (N,): mean pairwise L2
  distance between the frames' shape colours, in 0..255 units."""
  return mean_pairwise_distance(shape_colours(videos, threshold))


HISTOGRAM_BINS = 4  # per channel: 4^3 = 64 colour bins for RGB, 4 for grayscale


def colour_histograms(videos, bins: int = HISTOGRAM_BINS) -> np.ndarray:
  """uint8 (N, T, S, S, C) -> (N, T, bins^C) the fraction of each frame's pixels
  in each joint colour bin."""
  v = np.asarray(videos)
  n, t, s1, s2, c = v.shape
  index = np.zeros(v.shape[:-1], np.int64)
  for channel in range(c):
    index = index * bins + (v[..., channel].astype(np.int64) * bins) // 256
  flat = index.reshape(n * t, s1 * s2)
  counts = np.stack([np.bincount(row, minlength=bins ** c) for row in flat])
  return (counts / (s1 * s2)).reshape(n, t, bins ** c)


def histogram_acd(videos, bins: int = HISTOGRAM_BINS) -> np.ndarray:
  """Generic ACD for any dataset, per video (N,): mean pairwise L2 distance
  between the frames' colour histograms. A histogram ignores where pixels are,
  so motion alone leaves it unchanged and what it measures is content drift
  (colours appearing, fading or changing)."""
  return mean_pairwise_distance(colour_histograms(videos, bins))


# ---------------------------------------------------------------------------
# Reconstruction and prediction quality, per frame.
# ---------------------------------------------------------------------------

def _per_frame(fn, frames_a, frames_b):
  # dm-pix takes (H, W, C) or (N, H, W, C); any leading axes are frames here.
  a, b = jnp.asarray(frames_a, jnp.float32), jnp.asarray(frames_b, jnp.float32)
  lead = a.shape[:-3]
  return fn(a.reshape((-1,) + a.shape[-3:]), b.reshape((-1,) + b.shape[-3:])).reshape(lead)


def psnr(frames_a, frames_b):
  """PSNR in dB of frames in [0, 1], (..., H, W, C) -> (...)."""
  import dm_pix
  return _per_frame(dm_pix.psnr, frames_a, frames_b)


def ssim(frames_a, frames_b):
  """SSIM (11x11 Gaussian window, sigma 1.5) of frames in [0, 1], (..., H, W, C) -> (...)."""
  import dm_pix
  return _per_frame(dm_pix.ssim, frames_a, frames_b)

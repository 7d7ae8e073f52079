"""Writing generated videos: uint8 conversion, grids, GIF (Pillow) and mp4 (imageio-ffmpeg)."""

import os

import numpy as np

from mocogan_jax import files, pixels


def to_uint8(videos) -> np.ndarray:
  """float in [-1, 1] (host or device) -> host uint8 [0, 255], any shape."""
  return pixels.to_uint8(np.asarray(videos, np.float32))


def video_grid(videos: np.ndarray, columns: int | None = None, gap: int = 2) -> np.ndarray:
  """videos uint8 (N, T, S, S, C) -> one video (T, H, W, 3) tiling them in rows."""
  n, t, s, _, c = videos.shape
  columns = columns or int(np.ceil(np.sqrt(n)))
  rows = int(np.ceil(n / columns))
  grid = np.full((t, rows * (s + gap) + gap, columns * (s + gap) + gap, c), 255, np.uint8)
  for i in range(n):
    y, x = gap + (i // columns) * (s + gap), gap + (i % columns) * (s + gap)
    grid[:, y:y + s, x:x + s] = videos[i]
  return np.repeat(grid, 3, axis=-1) if c == 1 else grid[..., :3]


def gif_bytes(frames: np.ndarray, fps: int = 8, scale: int = 1) -> bytes:
  """frames uint8 (T, H, W, 3) -> an endlessly looping GIF."""
  import io

  from PIL import Image
  images = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST)
            for f in frames]
  buffer = io.BytesIO()
  images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                 duration=int(1000 / fps), loop=0)
  return buffer.getvalue()


def check_output_path(path: str) -> str:
  """Raises ValueError unless `path` is a video file this module can write;
  returns its extension (".gif" or ".mp4")."""
  extension = os.path.splitext(path)[1].lower()
  if extension not in (".gif", ".mp4"):
    raise ValueError(f"output file must end in .gif or .mp4, got {path}")
  if extension == ".mp4":
    try:
      import imageio.v2  # noqa: F401
      import imageio_ffmpeg  # noqa: F401
    except ImportError:
      raise ValueError("writing .mp4 needs the video extra: pip install 'mocogan-jax[video]'") from None
  return extension


def write_video(path: str, frames: np.ndarray, fps: int = 8, scale: int = 1) -> str:
  """frames uint8 (T, H, W, 3) -> `path` (.gif, or .mp4 with the `video` extra)."""
  extension = check_output_path(path)
  if extension == ".gif":
    files.write_bytes(path, gif_bytes(frames, fps, scale))
    return path
  import tempfile

  import imageio.v2 as imageio
  frames = np.repeat(np.repeat(frames, scale, 1), scale, 2)
  # H.264 wants even sides.
  frames = frames[:, :frames.shape[1] // 2 * 2, :frames.shape[2] // 2 * 2]
  with tempfile.TemporaryDirectory() as folder:  # ffmpeg writes local files only
    local = os.path.join(folder, "video.mp4")
    imageio.mimwrite(local, frames, fps=fps, macro_block_size=1)
    with open(local, "rb") as f:
      files.write_bytes(path, f.read())
  return path


def write_rows(path: str, rows, fps: int = 8) -> str:
  """rows: equal-length lists of float [-1, 1] videos (T_i, S, S, C), None for
  a blank tile -> one grid video, a row per list, shorter videos padded with
  black."""
  videos = [v for row in rows for v in row if v is not None]
  length = max(v.shape[0] for v in videos)
  tiles = []
  for row in rows:
    for v in row:
      tile = np.full((length, *videos[0].shape[1:]), -1.0, np.float32)
      if v is not None:
        tile[:v.shape[0]] = v
      tiles.append(tile)
  grid = video_grid(to_uint8(np.stack(tiles)), columns=len(rows[0]))
  return write_video(path, grid, fps=fps, scale=max(1, 128 // videos[0].shape[1]))

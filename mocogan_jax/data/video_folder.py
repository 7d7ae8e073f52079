"""video_folder: a folder of the user's videos as a TFDS dataset, built offline.

Use it as `dataset=folder:/path/to/videos` (data/pipeline.py). Each file is a
video, in either of two forms, mixed freely:

- an image strip, the official MoCoGAN format (.png, .jpg, .jpeg, .bmp): the
  frames side by side, so frames = width // height; RGBA is read as RGB;
- a video file (.mp4, .avi, .webm, .mov, .mkv through imageio-ffmpeg, the
  `video` extra; .gif through Pillow).

One subfolder per class gives a `label` ClassLabel (classes sorted by name);
a flat folder gives videos without labels. Frames are resized (shorter side to
S, bilinear) and centre-cropped to S x S, and converted to the config's
channels (1 = grayscale, 3 = RGB). Videos shorter than the clip are dropped
and counted; an unreadable file is skipped with a warning and counted
(`bad_files=skip`, the default) or stops the build naming it
(`bad_files=fail`).

The prepared dataset's name carries a fingerprint of the folder (every file's
path, size and modification time) and of the settings, so editing the folder
or changing the resolution builds it again instead of reading a stale copy.

Features: video uint8 (F, S, S, C), zlib-compressed, F varying per video;
label (with class folders); path (the file, relative to the folder).
"""

import hashlib
import os
import re
import warnings

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image, ImageSequence

from mocogan_jax.config import Config

from mocogan_jax.errors import ConfigError

STRIP_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
FFMPEG_EXTENSIONS = (".mp4", ".avi", ".webm", ".mov", ".mkv")
VIDEO_EXTENSIONS = STRIP_EXTENSIONS + FFMPEG_EXTENSIONS + (".gif",)


class BadFile(Exception):
  """A file that cannot be read as a video; the message names it."""


class NoUsableVideo(Exception):
  """The folder gave no video; args[0] is the counts."""


class VideoFolderConfig(tfds.core.BuilderConfig):
  """source: the folder; resolution, channels: the frames stored; min_frames:
  shorter videos are dropped; bad_files: skip | fail."""

  def __init__(self, *, source: str, resolution: int, channels: int, min_frames: int,
               bad_files: str, **kwargs):
    super().__init__(**kwargs)
    self.source = source
    self.resolution = resolution
    self.channels = channels
    self.min_frames = min_frames
    self.bad_files = bad_files


def list_videos(source: str) -> tuple[list[tuple[str, str | None]], list[str]]:
  """([(relative path, class or None)], class names), sorted. Class folders
  are the immediate subfolders holding videos; files beside them are ignored."""
  videos = lambda folder: [f for f in sorted(os.listdir(folder))
                           if f.lower().endswith(VIDEO_EXTENSIONS)]
  entries = sorted(os.listdir(source))
  by_class = {e: videos(os.path.join(source, e)) for e in entries
              if os.path.isdir(os.path.join(source, e))}
  classes = [c for c, found in by_class.items() if found]
  if classes:
    return [(os.path.join(c, f), c) for c in classes for f in by_class[c]], classes
  return [(f, None) for f in videos(source)], classes


def config_for(source: str, resolution: int, channels: int, min_frames: int,
               bad_files: str) -> VideoFolderConfig:
  source = os.path.abspath(source)
  files, _ = list_videos(source)
  fingerprint = hashlib.sha256(repr((resolution, channels, min_frames, bad_files)).encode())
  for path, _ in files:
    stat = os.stat(os.path.join(source, path))
    fingerprint.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
  slug = re.sub(r"[^a-z0-9]+", "_", os.path.basename(source.rstrip("/")).lower()).strip("_")
  return VideoFolderConfig(
      name=f"{slug or 'videos'}_{resolution}px_{fingerprint.hexdigest()[:12]}", source=source,
      resolution=resolution, channels=channels, min_frames=min_frames, bad_files=bad_files,
      description=f"the videos of {source}")


def square(frame: Image.Image, size: int) -> Image.Image:
  """Shorter side to `size`, then the centre size x size."""
  w, h = frame.size
  scale = size / min(w, h)
  w2, h2 = max(size, round(w * scale)), max(size, round(h * scale))
  if (w2, h2) != (w, h):
    frame = frame.resize((w2, h2), Image.BILINEAR)
  left, top = (w2 - size) // 2, (h2 - size) // 2
  return frame.crop((left, top, left + size, top + size))


def _frames(path: str) -> list[Image.Image]:
  """The frames of one file as RGB PIL images; BadFile if it cannot be read."""
  ext = os.path.splitext(path)[1].lower()
  try:
    if ext in STRIP_EXTENSIONS:
      with Image.open(path) as image:
        strip = image.convert("RGB")
      w, h = strip.size
      return [strip.crop((i * h, 0, (i + 1) * h, h)) for i in range(w // h)]
    if ext == ".gif":
      with Image.open(path) as image:
        return [frame.convert("RGB") for frame in ImageSequence.Iterator(image)]
    return _ffmpeg_frames(path)
  except BadFile:
    raise
  except Exception as e:  # Pillow and ffmpeg raise many types for damaged files
    raise BadFile(f"{path}: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}")


def _ffmpeg_frames(path: str) -> list[Image.Image]:
  try:
    import imageio_ffmpeg
  except ImportError:
    raise BadFile(f"{path}: reading {os.path.splitext(path)[1]} files needs the video extra "
                  f"(pip install -e '.[video]')") from None
  with warnings.catch_warnings():
    # ffmpeg runs as a subprocess: fork then exec at once, which JAX's fork
    # warning does not need to flag.
    warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called")
    reader = imageio_ffmpeg.read_frames(path)
    meta = next(reader)
    w, h = meta["size"]
    frames = [Image.fromarray(np.frombuffer(raw, np.uint8).reshape(h, w, 3)) for raw in reader]
  if not frames:
    raise BadFile(f"{path}: no frames decoded")
  return frames


def read_video(path: str, resolution: int, channels: int) -> np.ndarray:
  """uint8 (F, S, S, channels); BadFile if the file cannot be read or holds
  no frame (an image strip narrower than it is high)."""
  frames = [square(f, resolution) for f in _frames(path)]
  if not frames:
    raise BadFile(f"{path}: no frames (an image strip holds width // height frames)")
  if channels == 1:
    return np.stack([np.asarray(f.convert("L"))[..., None] for f in frames])
  return np.stack([np.asarray(f) for f in frames])


def read_clip(path: str, config: Config, length: int) -> np.ndarray:
  """uint8 (1, <= length, S, S, C): the first frames of a video file at the
  run's stride (every_nth), as the command line's --input / --content read it."""
  if not os.path.isfile(path):
    raise ConfigError(f"video {path} not found")
  try:
    video = read_video(path, config.image_size, config.channels)
  except BadFile as e:
    raise ConfigError(f"cannot read video {e}") from None
  return video[None, :(length - 1) * config.every_nth + 1:config.every_nth]


FIRST_PATHS = 5  # dropped files named in the build's summary, per kind


def _count(counts: dict, kind: str, relative: str) -> None:
  counts[kind] += 1
  if len(counts[f"{kind}_paths"]) < FIRST_PATHS:
    counts[f"{kind}_paths"].append(relative)


class VideoFolder(tfds.core.GeneratorBasedBuilder):
  """A folder of videos or image strips, one subfolder per class or flat."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Image strips and video files, class subfolders."}
  BUILDER_CONFIGS = []  # made per folder by config_for()

  def _info(self):
    c = self.builder_config
    _, classes = list_videos(c.source)
    features = {
        "video": tfds.features.Tensor(shape=(None, c.resolution, c.resolution, c.channels),
                                      dtype=np.uint8, encoding=tfds.features.Encoding.ZLIB),
        "path": tfds.features.Text(),
    }
    if classes:
      features["label"] = tfds.features.ClassLabel(names=classes)
    # metadata["counts"] is filled while building and saved with the dataset.
    return self.dataset_info_from_configs(features=tfds.features.FeaturesDict(features),
                                          metadata=tfds.core.MetadataDict())

  def _split_generators(self, dl_manager):
    return {"train": self._generate_examples()}

  def _generate_examples(self):
    c = self.builder_config
    files, _ = list_videos(c.source)
    # Saved with the dataset: how many videos went where, and the first paths
    # of each kind dropped, for the summary every load prints.
    counts = self.info.metadata["counts"] = {"videos": 0, "too_short": 0, "unreadable": 0,
                                             "too_short_paths": [], "unreadable_paths": []}
    for index, (relative, label) in enumerate(files):
      try:
        video = read_video(os.path.join(c.source, relative), c.resolution, c.channels)
      except BadFile as e:
        if c.bad_files == "fail":
          raise
        _count(counts, "unreadable", relative)
        if counts["unreadable"] <= FIRST_PATHS:
          print(f"warning: skipping unreadable video {e}"
                + (" (more are counted, not printed)" if counts["unreadable"] == FIRST_PATHS
                   else ""), flush=True)
        continue
      if len(video) < c.min_frames:
        _count(counts, "too_short", relative)
        continue
      counts["videos"] += 1
      example = {"video": video, "path": relative}
      if label is not None:
        example["label"] = label
      yield index, example
    if not counts["videos"]:  # TFDS cannot write an empty split; say why it is empty
      raise NoUsableVideo(counts)


"""TFDS catalog video datasets seen in the common form {"video", "label"}.

They are prepared by the user where the data can be downloaded (TensorFlow
is needed to build them), then read like any other dataset:

    pip install tensorflow
    tfds build moving_mnist bair_robot_pushing_small ucf101 --file_format=array_record
    mocogan-jax train --config shapes_64 --workdir DIR dataset=bair_robot_pushing_small \
        use_categories=false

| dataset= | split read | frames | label |
|---|---|---|---|
| moving_mnist | test (its only split) | image_sequence, 20 x 64 x 64 x 1 | none |
| bair_robot_pushing_small | train | image_main, 30 x 64 x 64 x 3 | none |
| ucf101 (e.g. ucf101/ucf101_1_256) | train | video, F x 256 x 256 x 3 | label, 101 classes |

Frames are resized and centre-cropped to image_size when their size differs
(UCF101 at 64x64), grayscale is repeated to 3 channels or RGB turned gray to
match `channels`, and a video shorter than the clip is padded by repeating its
last frame (UCF101's shortest clips have 29 frames).
"""

import dataclasses

import numpy as np
from PIL import Image

from mocogan_jax.data.video_folder import square


@dataclasses.dataclass(frozen=True)
class CatalogVideo:
  split: str  # the split training reads
  video: str  # the feature holding the frames
  label: str | None  # the feature holding the class, if any


CATALOG = {
    "moving_mnist": CatalogVideo(split="test", video="image_sequence", label=None),
    "bair_robot_pushing_small": CatalogVideo(split="train", video="image_main", label=None),
    "ucf101": CatalogVideo(split="train", video="video", label="label"),
}


def to_frames(video: np.ndarray, size: int, channels: int, min_frames: int) -> np.ndarray:
  """uint8 (F, H, W, C) -> uint8 (max(F, min_frames), size, size, channels)."""
  video = np.asarray(video, np.uint8)
  if video.shape[1:3] != (size, size):
    video = np.stack([np.asarray(square(Image.fromarray(f.squeeze(-1) if f.shape[-1] == 1
                                                        else f), size)) for f in video])
    video = video[..., None] if video.ndim == 3 else video
  if video.shape[-1] == 1 and channels == 3:
    video = np.repeat(video, 3, axis=-1)
  elif video.shape[-1] == 3 and channels == 1:
    weights = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601, as Pillow's "L"
    video = np.rint(video.astype(np.float32) @ weights).astype(np.uint8)[..., None]
  if len(video) < min_frames:
    video = np.concatenate([video, np.repeat(video[-1:], min_frames - len(video), axis=0)])
  return video


class CatalogSource:
  """A catalog dataset's data source as [i] -> {"video": uint8 (F, S, S, C),
  "label": int (when the dataset has one)}."""

  def __init__(self, source, entry: CatalogVideo, size: int, channels: int, min_frames: int):
    self._source, self._entry = source, entry
    self._shape = (size, channels, min_frames)

  def __len__(self):
    return len(self._source)

  @property
  def num_classes(self) -> int | None:
    if self._entry.label is None:
      return None
    return self._source.dataset_info.features[self._entry.label].num_classes

  def __getitem__(self, index):
    example = self._source[index]
    out = {"video": to_frames(example[self._entry.video], *self._shape)}
    if self._entry.label is not None:
      out["label"] = int(example[self._entry.label])
    return out

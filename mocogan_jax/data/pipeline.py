"""Real batches for the train step, from any TFDS dataset with a `video` feature.

A global batch is a pure function of (seed, step): real clips of T frames at
stride `every_nth` from random offsets of random videos, their labels, and
single random frames of other random videos for the image discriminator (the
official trainer's image sampler). Pixels stay uint8 until the device. Because
batch i depends on nothing but i, the pipeline's position is the step number and
a resumed run sees exactly the batches it would have seen.

Batches are assembled in a background thread and put on the devices there, so
host work overlaps the running step.
"""

import collections
import concurrent.futures
import enum
import os
import queue
import threading
from typing import Iterator

import jax
import numpy as np
import tensorflow_datasets as tfds

from mocogan_jax.config import Config

from mocogan_jax.errors import ConfigError
from mocogan_jax.data import catalog
from mocogan_jax.data import moving_mnist, shape_motion, video_folder  # noqa: F401  (registers builders)
from mocogan_jax.sharding import process_rows

# Builders that can be prepared offline, without a download.
OFFLINE_BUILDERS = ("shape_motion", "video_folder", "moving_mnist_offline")
FOLDER_PREFIX = "folder:"


def _builder_factory(config: Config, data_dir: str | None):
  """A function making the TFDS builder of config.dataset: a registered name
  ("shape_motion/64", "ucf101") or "folder:PATH" (data/video_folder.py)."""
  if config.dataset.startswith(FOLDER_PREFIX):
    source = _folder(config)
    if not os.path.isdir(source):
      raise ConfigError(f"dataset folder {source} not found")
    folder_config = video_folder.config_for(source, config.image_size, config.channels,
                                            config.clip_span, config.bad_files)
    return lambda: video_folder.VideoFolder(config=folder_config, data_dir=data_dir,
                                            file_format="array_record")

  def make():
    try:
      return tfds.builder(config.dataset, data_dir=data_dir, file_format="array_record")
    except Exception as e:  # TFDS raises several types for unknown names and configs.
      raise ConfigError(f"dataset {config.dataset!r} not found: "
                        f"{str(e).splitlines()[0]}") from None
  return make


def _folder(config: Config) -> str:
  return config.dataset.removeprefix(FOLDER_PREFIX)


def _folder_summary(config: Config, counts: dict) -> str:
  """"N videos, N dropped as shorter than ... (first paths), N unreadable (first paths)"."""
  def dropped(kind):
    paths = list(counts.get(f"{kind}_paths", []))
    more = ", ..." if counts.get(kind, 0) > len(paths) else ""
    return f" ({', '.join(paths)}{more})" if paths else ""
  return (f"{counts.get('videos', 0)} videos, {counts.get('too_short', 0)} dropped as shorter "
          f"than {config.clip_span} frames (video_length={config.video_length}, every_nth="
          f"{config.every_nth}){dropped('too_short')}, {counts.get('unreadable', 0)} "
          f"unreadable{dropped('unreadable')}")


def _report_folder(config: Config, builder) -> None:
  if jax.process_index() == 0:
    counts = dict(builder.info.metadata.get("counts", {}))
    print(f"{_folder(config)}: {_folder_summary(config, counts)}", flush=True)


def load_source(config: Config, split: str = "train"):
  """The dataset's random-access source; prepares offline datasets on first use.

  Returns an object with len() and [i] -> {"video": uint8 (F, S, S, C), ...}.
  """
  data_dir = config.data_dir or None
  make_builder = _builder_factory(config, data_dir)
  builder = make_builder()
  if not builder.is_prepared():
    if builder.name not in OFFLINE_BUILDERS:
      raise ConfigError(
          f"dataset {config.dataset!r} is not prepared in {builder.data_dir}; prepare it "
          f"first (tfds build {config.dataset} --file_format=array_record; TFDS needs "
          f"TensorFlow to build it)")
    try:
      builder.download_and_prepare()
    except FileExistsError:
      # Another process of a multi-process run sharing this data_dir finished
      # first; the build is deterministic, so its copy is the same.
      builder = make_builder()
      if not builder.is_prepared():
        raise
    except video_folder.BadFile as e:
      raise ConfigError(f"unreadable video {e} (bad_files=skip skips such files)") from None
    except video_folder.NoUsableVideo as e:
      raise ConfigError(f"no usable video in {_folder(config)}: "
                        f"{_folder_summary(config, e.args[0])}") from None
  if builder.name == "video_folder":
    _report_folder(config, builder)
  if builder.name in catalog.CATALOG:
    return _catalog_source(builder, config, split)
  features = builder.info.features
  if "video" not in features:
    raise ConfigError(f"dataset {config.dataset!r} has no 'video' feature")
  frames, height, width, channels = features["video"].shape
  if (height, width) != (config.image_size, config.image_size):
    raise ConfigError(f"dataset {config.dataset!r} has {height}x{width} frames but "
                      f"image_size={config.image_size}")
  if channels != config.channels:
    raise ConfigError(f"dataset {config.dataset!r} has {channels} channels but "
                      f"channels={config.channels}")
  if frames is not None and frames < config.clip_span:
    raise ConfigError(
        f"dataset {config.dataset!r} has {frames}-frame videos; video_length="
        f"{config.video_length} at every_nth={config.every_nth} needs {config.clip_span}")
  if config.use_categories:
    if config.label_key not in features:
      raise ConfigError(f"label_key={config.label_key!r} is not a feature of {config.dataset!r}")
    num_classes = features[config.label_key].num_classes
    if num_classes > config.n_categories:
      raise ConfigError(f"{config.dataset!r} has {num_classes} {config.label_key} classes "
                        f"but n_categories={config.n_categories}")
  source = builder.as_data_source(split=split)
  if len(source) == 0:
    raise ConfigError(f"dataset {config.dataset!r} split {split!r} is empty")
  return source


def _catalog_source(builder, config: Config, split: str):
  """A TFDS catalog dataset mapped to the common form (data/catalog.py)."""
  entry = catalog.CATALOG[builder.name]
  if config.use_categories:
    if entry.label is None:
      raise ConfigError(f"{config.dataset!r} has no labels; set use_categories=false")
    if config.label_key != "label":
      raise ConfigError(f"{config.dataset!r} gives its classes as label_key='label', "
                        f"not {config.label_key!r}")
    num_classes = builder.info.features[entry.label].num_classes
    if num_classes > config.n_categories:
      raise ConfigError(f"{config.dataset!r} has {num_classes} classes but "
                        f"n_categories={config.n_categories}")
  source = builder.as_data_source(split=entry.split if split == "train" else split)
  if len(source) == 0:
    raise ConfigError(f"dataset {config.dataset!r} split {entry.split!r} is empty")
  return catalog.CatalogSource(source, entry, config.image_size, config.channels,
                               config.clip_span)


def make_batch(source, config: Config, step: int, video_rows: slice = slice(None),
               image_rows: slice = slice(None)) -> dict:
  """Rows `video_rows` / `image_rows` of the global batch of `step`.

  The whole global batch is drawn from (seed, step) alone and each process
  reads only the rows its devices hold, so the global batch is the same for
  any number of processes and devices.

  Returns {"video": uint8 (Bv', T, S, S, C), "label": int32 (Bv',),
           "image": uint8 (Bi', S, S, C)}, Bv' and Bi' the numbers of rows.
  """
  rng = np.random.default_rng([config.seed, step])
  bv, bi = config.video_batch, config.image_batch
  video_index = rng.integers(len(source), size=bv)
  clip_start = rng.random(bv)  # fraction of the valid start range: videos may differ in length
  image_index = rng.integers(len(source), size=bi)
  image_frame = rng.random(bi)

  videos, labels = [], []
  for index, u in zip(video_index[video_rows], clip_start[video_rows]):
    example = source[int(index)]
    video = example["video"]
    start = int(u * (video.shape[0] - config.clip_span + 1))
    videos.append(video[start:start + config.clip_span:config.every_nth])
    labels.append(example[config.label_key] if config.use_categories else 0)
  images = []
  for index, u in zip(image_index[image_rows], image_frame[image_rows]):
    video = source[int(index)]["video"]
    images.append(video[int(u * video.shape[0])])
  return {
      "video": np.stack(videos),
      "label": np.asarray(labels, np.int32),
      "image": np.stack(images),
  }


def device_batches(source, config: Config, start_step: int, sharding,
                   prefetch: int = 2) -> Iterator[dict]:
  """Global batches for steps start_step, start_step + 1, ..., as jax.Arrays
  laid out by `sharding` (batch axis split over the mesh), built ahead:
  config.data_workers threads build the host batches of upcoming steps (reading
  and decompressing release the GIL), one thread puts them on the devices in
  step order."""
  out: queue.Queue = queue.Queue(maxsize=prefetch)
  stop = threading.Event()

  video_rows = process_rows(sharding, config.video_batch)
  image_rows = process_rows(sharding, config.image_batch)

  def produce():
    pending = collections.deque()  # futures of the next steps' host batches, in order
    next_step = start_step
    try:
      with concurrent.futures.ThreadPoolExecutor(config.data_workers,
                                                 thread_name_prefix="input-worker") as pool:
        while not stop.is_set():
          while len(pending) < 2 * config.data_workers:
            pending.append(pool.submit(make_batch, source, config, next_step, video_rows,
                                       image_rows))
            next_step += 1
          local = pending.popleft().result()
          batch = {k: jax.make_array_from_process_local_data(sharding, v)
                   for k, v in local.items()}
          while not stop.is_set():
            try:
              out.put(batch, timeout=0.1)
              break
            except queue.Full:
              continue
        for future in pending:
          future.cancel()
    except BaseException as e:  # surfaced in the consumer, never lost in the thread
      out.put(e)

  thread = threading.Thread(target=produce, daemon=True, name="input-pipeline")
  thread.start()
  try:
    while True:
      item = out.get()
      if isinstance(item, BaseException):
        raise item
      yield item
  finally:
    # Never leave the thread inside a JAX call while the interpreter shuts down.
    stop.set()
    while thread.is_alive():
      try:
        out.get_nowait()
      except queue.Empty:
        thread.join(timeout=0.1)


# ---------------------------------------------------------------------------
# Clips for evaluation and for the evaluation classifier.
# ---------------------------------------------------------------------------

class Subset:
  """Videos `indices` of a source, as a source."""

  def __init__(self, source, indices):
    self._source, self._indices = source, np.asarray(indices)

  def __len__(self):
    return len(self._indices)

  def __getitem__(self, index):
    return self._source[int(self._indices[index])]


HELD_OUT_EVERY = 10  # without a test split, every 10th training video is held out


def train_and_held_out(config: Config):
  """(train source, held-out source, a phrase naming the held-out part).

  The held-out videos are the dataset's `test` split where it has a separate
  one, otherwise every 10th video of `train`, which the train source then
  leaves out. Training sets of generators always read the whole train split.
  """
  train = load_source(config, "train")
  builder = _builder_factory(config, config.data_dir or None)()
  entry = catalog.CATALOG.get(builder.name)
  has_test = "test" in builder.info.splits and (entry is None or entry.split != "test")
  if has_test:
    return train, load_source(config, "test"), "the test split"
  held_out = np.arange(len(train)) % HELD_OUT_EVERY == 0
  return (Subset(train, np.flatnonzero(~held_out)), Subset(train, np.flatnonzero(held_out)),
          f"every {HELD_OUT_EVERY}th video of the train split (no test split)")


def num_classes(source, label_key: str) -> int | None:
  """How many values the label feature has, or None if the source has none."""
  while isinstance(source, Subset):
    source = source._source
  if isinstance(source, catalog.CatalogSource):
    return source.num_classes
  features = source.dataset_info.features
  return features[label_key].num_classes if label_key in features else None


class ClipStream(enum.IntEnum):
  """Which random clips are which: sample_clips(..., [seed, ClipStream.X, ...]).
  The values are those earlier results were drawn with; keep them."""
  CLASSIFIER = 1  # its batches [seed, 1, step]; [seed, 1]: the held-out clips that
                  # train-classifier scores and `evaluate --floor` reads (same MCS)
  ENCODER = 4  # train-encoder's batches [seed, 4, step]
  ENCODER_CHECK = 5  # the held-out clips train-encoder measures
  BASELINE = 6  # train-baseline's batches [seed, 6, step]
  PREDICT = 8  # `predict --dataset`'s clips
  PREDICTION_TABLE = 9  # experiments/prediction.py's clips
  ACD_PARTS = 10  # experiments/acd_parts.py's real clips


def sample_clips(source, count: int, length: int, every_nth: int, seed,
                 label_key: str | None = None, rows: slice = slice(None)):
  """Rows `rows` of `count` clips of `length` frames at stride `every_nth`, each
  from a random video at a random start, all drawn from `seed` (an int or a
  sequence of ints): reading them in parts gives the same clips as at once.

  Returns uint8 (rows, length, S, S, C) and int32 labels (rows,) (zeros
  without label_key).
  """
  rng = np.random.default_rng(seed)
  index = rng.integers(len(source), size=count)[rows]
  start = rng.random(count)[rows]
  span = (length - 1) * every_nth + 1
  clips, labels = [], []
  for i, u in zip(index, start):
    example = source[int(i)]
    video = example["video"]
    if video.shape[0] < span:
      raise ConfigError(f"a clip of {length} frames at every_nth={every_nth} spans {span} "
                        f"frames; video {int(i)} of the dataset has {video.shape[0]}")
    first = int(u * (video.shape[0] - span + 1))
    clips.append(video[first:first + span:every_nth])
    labels.append(example[label_key] if label_key else 0)
  return np.stack(clips), np.asarray(labels, np.int32)

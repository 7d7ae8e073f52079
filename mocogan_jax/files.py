"""The files of a workdir, on a local disk or on object storage (gs://...).

Paths go through etils.epath, so a pod's workdir can be a bucket that every
host reaches and that outlives the machines: its config, logs, samples and
reports as well as its checkpoints (which orbax writes through epath too).
Reading gs:// needs gcsfs (or TensorFlow) installed; local paths need nothing.
Object stores cannot append to a file: `MetricsLog` appends on a disk and
composes on gs:// (the new lines as an object of their own, joined to the
file on the server), so a long run sends each line once.
"""

import contextlib
import functools
import json
import os
import sys
import threading

# gcsfs's hierarchical-namespace probe before bucket operations (see
# docs/usage.md, "gcsfs's bucket probe"): off unless the user set it. The
# project renames nothing on a bucket, the one thing that support changes.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

from etils import epath  # noqa: E402

from mocogan_jax.errors import ConfigError


def is_remote(path: str) -> bool:
  return "://" in str(path)


def absolute(path: str) -> str:
  """A local path made absolute; a gs://... path as it is."""
  return str(path) if is_remote(path) else os.path.abspath(path)


@contextlib.contextmanager
def _storage(path: str):
  """A missing storage package (gcsfs for gs://) as one line, not a traceback."""
  try:
    yield
  except ImportError as e:
    raise ConfigError(f"cannot reach {path}: {e} (for gs://: pip install "
                      f"'mocogan-jax[gcs]')") from None


def exists(path: str) -> bool:
  with _storage(path):
    return epath.Path(path).exists()


def read_text(path: str) -> str:
  with _storage(path):
    return epath.Path(path).read_text()


def read_bytes(path: str) -> bytes:
  with _storage(path):
    return epath.Path(path).read_bytes()


def write_bytes(path: str, data: bytes) -> None:
  """Writes `path` whole, creating its folder: a reader never sees half a
  file. An object store's upload already is whole, one request; on a disk a
  temporary file of this process and thread is renamed over it."""
  target = epath.Path(path)
  with _storage(path):
    try:
      target.parent.mkdir(parents=True, exist_ok=True)  # on a bucket: nothing, or a mock's folder
      if is_remote(path):
        target.write_bytes(data)
        return
      temporary = target.parent / f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
      temporary.write_bytes(data)
      temporary.replace(target)
    except OSError as e:  # epath's errors may not name the file (a full disk)
      raise OSError(e.errno, e.strerror or str(e), path) from e


def write_text(path: str, text: str) -> None:
  write_bytes(path, text.encode())


def make_folder(directory: str, what: str) -> None:
  """Creates `directory` (and its parents); failing, the user's input error
  "`what` DIR is not writable: why"."""
  with _storage(directory):
    try:
      epath.Path(directory).mkdir(parents=True, exist_ok=True)
    except OSError as e:
      raise ConfigError(f"{what} {directory} is not writable: {e.strerror or e}") from None


def check_writable(directory: str) -> None:
  """Creates `directory`; raises OSError if a file cannot be written there."""
  folder = epath.Path(directory)
  probe = folder / f".write_test.{os.getpid()}"  # one per process
  with _storage(directory):
    folder.mkdir(parents=True, exist_ok=True)
    probe.write_text("ok")
    probe.unlink()


def require_writable(directory: str, what: str) -> None:
  """check_writable, with a failure as the user's input error: "`what`
  DIR is not writable: why"."""
  try:
    check_writable(directory)
  except OSError as e:
    raise ConfigError(f"{what} {directory} is not writable: {e.strerror or e}") from None


def summary_writer(logdir: str):
  """A tensorboardX SummaryWriter for `logdir`. tensorboardX imports torch,
  where it is installed, only to accept torch tensors: 1.6 s of every run's
  start. The runs log numbers, so torch stays out unless already imported."""
  blocked = "torch" not in sys.modules
  if blocked:
    sys.modules["torch"] = None  # import torch now raises ImportError
  try:
    from tensorboardX import SummaryWriter
  finally:
    if blocked:
      del sys.modules["torch"]
  return SummaryWriter(logdir)


def append_text(path: str, text: str) -> None:
  """Adds `text` at the end of `path` (which exists), sending only `text`: on
  a disk by appending; on gs://, which cannot append, by uploading it as an
  object of its own and composing the two into `path` on the server; on
  another object store by writing the whole file again."""
  if not is_remote(path):
    with open(path, "a") as f:
      f.write(text)
  elif path.startswith("gs://"):
    _gcs_append(path, text)
  else:
    write_text(path, read_text(path) + text)


def _gcs_append(path: str, text: str) -> None:
  from google.cloud import storage
  bucket_name, _, name = path.removeprefix("gs://").partition("/")
  bucket = _gcs_client().bucket(bucket_name)
  target = bucket.get_blob(name)
  part = bucket.blob(f"{name}.{os.getpid()}.{threading.get_ident()}.part")
  part.upload_from_string(text)
  try:  # only onto the version read: a writer in between fails it, not loses lines
    bucket.blob(name).compose([target, part], if_generation_match=target.generation,
                              retry=storage.retry.DEFAULT_RETRY)
  finally:
    part.delete()


@functools.cache
def _gcs_client():
  from google.cloud import storage
  return storage.Client()


class MetricsLog:
  """metrics.jsonl: one JSON object per line, each with its "step".

  keep_through: the lines of an earlier run up to this step are kept, those
  after it dropped (a killed run's lines past its last checkpoint, which the
  resumed run writes again); None keeps them all. The file is written whole
  once, then each record is appended (append_text): the bytes sent over a
  run grow with its length, not with its square.
  """

  def __init__(self, path: str, keep_through: int | None = None):
    self.path = path
    lines = []
    if exists(path):
      lines = [line for line in read_text(path).splitlines() if line.strip()
               and (keep_through is None or json.loads(line)["step"] <= keep_through)]
    write_text(path, "".join(line + "\n" for line in lines))

  def write(self, record: dict) -> None:
    append_text(self.path, json.dumps(record) + "\n")

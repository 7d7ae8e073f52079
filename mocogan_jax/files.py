"""The files of a workdir, on a local disk or on object storage (gs://...).

Paths go through etils.epath, so a pod's workdir can be a bucket that every
host reaches and that outlives the machines: its config, logs, samples and
reports as well as its checkpoints (which orbax writes through epath too).
Reading gs:// needs gcsfs (or TensorFlow) installed; local paths need nothing.
Object stores cannot append to a file, so `MetricsLog` rewrites its file whole
each time it writes (one upload on a bucket; a temporary file and a rename on
a disk).
"""

import contextlib
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


class MetricsLog:
  """metrics.jsonl: one JSON object per line, each with its "step".

  keep_through: the lines of an earlier run up to this step are kept, those
  after it dropped (a killed run's lines past its last checkpoint, which the
  resumed run writes again); None keeps them all.
  """

  def __init__(self, path: str, keep_through: int | None = None):
    self.path = path
    self.lines = []
    if exists(path):
      self.lines = [line for line in read_text(path).splitlines() if line.strip()
                    and (keep_through is None or json.loads(line)["step"] <= keep_through)]
    self._flush()

  def write(self, record: dict) -> None:
    self.lines.append(json.dumps(record))
    self._flush()

  def _flush(self):
    write_text(self.path, "".join(line + "\n" for line in self.lines))

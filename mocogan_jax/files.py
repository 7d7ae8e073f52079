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
import errno
import functools
import json
import os
import re
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
  """A missing storage package (gcsfs for gs://) as one line, not a traceback;
  a storage client's error that retries did not mend (an HTTP status, a lost
  connection) as an OSError naming `path` and the cause."""
  try:
    yield
  except ImportError as e:
    raise ConfigError(f"cannot reach {path}: {e} (for gs://: pip install "
                      f"'mocogan-jax[gcs]')") from None
  except Exception as e:
    if isinstance(e, OSError) or not type(e).__module__.startswith(_STORAGE_CLIENTS):
      raise
    raise OSError(errno.EIO, f"storage failed: {storage_cause(e)}", path) from e


_STORAGE_CLIENTS = ("google.", "gcsfs", "aiohttp", "requests", "urllib3")


def storage_cause(e: Exception) -> str:
  """One line for a storage failure: the status and message of an HTTP error,
  how long retries ran and their last error, else the exception's first line."""
  if type(e).__name__ == "RetryError":  # google.api_core's: retried until its deadline
    last = getattr(e, "cause", None)
    seconds = re.match(r"Timeout of ([\d.]+)s", str(e))
    return (f"no answer in {float(seconds.group(1)) if seconds else '?':g} s of retries"
            + (f" (last: {type(last).__name__})" if last is not None else ""))
  if getattr(e, "code", None) and getattr(e, "message", None):
    return f"{e.code} {e.message}".splitlines()[0]
  if isinstance(e, OSError) and e.strerror:
    return e.strerror
  text = str(e).strip().splitlines()
  return f"{type(e).__name__}: {text[0][:200]}" if text else type(e).__name__


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
    from tensorboardX import SummaryWriter, record_writer
  finally:
    if blocked:
      del sys.modules["torch"]
  record_writer.register_writer_factory("gs", _AppendedEventsFactory())
  return SummaryWriter(logdir)


class _AppendedEvents:
  """tensorboardX's file object for an event file on gs://: each flush sends
  the records written since the last one (append_bytes), where tensorboardX's
  own uploads the whole file again at every flush (bytes growing with the
  square of a run's length)."""

  def __init__(self, path: str):
    self.path, self.pending, self.created = path, [], False

  def write(self, data: bytes) -> None:
    self.pending.append(data)

  def flush(self) -> None:
    data, self.pending = b"".join(self.pending), []  # failed, not sent twice
    if not self.created:
      self.created = True
      write_bytes(self.path, data)
    elif data:
      append_bytes(self.path, data)

  close = flush


class _AppendedEventsFactory:
  def open(self, path: str) -> _AppendedEvents:
    return _AppendedEvents(path)

  def directory_check(self, path: str) -> None:
    pass  # a bucket has no folders to make


def append_bytes(path: str, data: bytes) -> None:
  """Adds `data` at the end of `path` (which exists), sending only `data`: on
  a disk by appending; on gs://, which cannot append, by uploading it as an
  object of its own and composing the two into `path` on the server; on
  another object store by writing the whole file again."""
  if not is_remote(path):
    with open(path, "ab") as f:
      f.write(data)
  elif path.startswith("gs://"):
    with _storage(path):
      _gcs_append(path, data)
  else:
    write_bytes(path, read_bytes(path) + data)


def append_text(path: str, text: str) -> None:
  append_bytes(path, text.encode())


def _gcs_append(path: str, data: bytes) -> None:
  from google.api_core import exceptions
  from google.cloud import storage
  retry = storage.retry.DEFAULT_RETRY  # every request below may be sent twice
  bucket_name, _, name = path.removeprefix("gs://").partition("/")
  bucket = _gcs_client().bucket(bucket_name)
  target = bucket.get_blob(name, retry=retry)
  part = bucket.blob(f"{name}.{os.getpid()}.{threading.get_ident()}.part")
  part.upload_from_string(data, retry=retry)  # a name of this writer's: a retry rewrites it
  try:  # only onto the version read: a writer in between fails it, not loses lines
    bucket.blob(name).compose([target, part], if_generation_match=target.generation,
                              retry=retry)
  except exceptions.PreconditionFailed:
    # A retried compose whose first try landed finds its own result: the
    # object grew by this text. Anything else is another writer's.
    now = bucket.get_blob(name, retry=retry)
    if now.size != target.size + len(data) or now.download_as_bytes(
        start=target.size, retry=retry) != data:
      raise
  finally:
    with contextlib.suppress(exceptions.NotFound):  # a retried delete whose first try landed
      part.delete(retry=retry)


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

"""One writer per workdir: `train` holds WORKDIR/train.lock while it runs.

The lock is a small JSON file naming its holder (host, pid, start time) and
a heartbeat that a background thread renews every `heartbeat_s(timeout)`
seconds. A second `train` on the same workdir refuses in one line naming the
holder. A lock is stale, and is taken over with a warning, when its holder is
a dead process on this host or its heartbeat is older than `timeout` seconds
(a holder on another host, which cannot be asked). Readers (sample,
evaluate, export) take no lock.

    with workdir_lock.held(workdir, timeout=600) as lock:
      ...
      lock.check()    # before each write to the workdir: LockLost once taken over
      lock.confirm()  # before a checkpoint: the same, read back from storage

Every change of the lock is conditional on the version its writer last saw,
so two writers cannot both hold it: on object storage (gs://) through the
bucket's generation preconditions (`ifGenerationMatch=0` to create, the
holder's own generation to renew, take over or release), on a local disk
with O_EXCL to create and an flock of the workdir around each check and the
write after it. A holder whose renewal finds the lock changed, or that could
not renew it for `timeout` seconds, has lost it: `check` raises and the run
writes nothing more.
"""

import contextlib
import fcntl
import json
import os
import socket
import sys
import threading
import time

from mocogan_jax import files
from mocogan_jax.errors import ConfigError

LOCK_NAME = "train.lock"


def heartbeat_s(timeout: float) -> float:
  """Seconds between renewals: several per `timeout`, at most 30."""
  return min(30.0, timeout / 4)


class WorkdirLocked(ConfigError):
  """Another live `train` holds the workdir; the message names it."""


class LockLost(RuntimeError):
  """This run's lock was taken over (or could not be renewed): it must stop
  writing to the workdir. The message names the holder now."""


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # someone else's process, alive
    return True
  return True


def stale_reason(holder: dict, timeout: float, now: float) -> str | None:
  """Why the lock of `holder` may be taken over, or None while it holds."""
  if holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", -1))):
    return f"its process {holder.get('pid')} is gone"
  age = now - float(holder.get("heartbeat", 0))
  if age > timeout:
    return f"no heartbeat for {age:.0f} s (lock_timeout={timeout:g})"
  return None


def _describe(holder: dict) -> str:
  if not holder:
    return "an unknown holder"
  started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(holder.get("started", 0))))
  return f"pid {holder.get('pid')} on {holder.get('host')}, started {started}"


# --- The lock file, changed only from the version last seen -----------------------
# create(text) -> version | None (it exists); read() -> (text, version) | None;
# replace(text, version) -> new version | None (changed since); delete(version).

class _LocalFile:
  """On a local disk. The version is the text itself (it holds the pid and
  the heartbeat time). Each check and the write after it happen under an
  flock of the workdir, one step for every process of this host."""

  def __init__(self, workdir: str):
    self.workdir, self.path = workdir, os.path.join(workdir, LOCK_NAME)

  @contextlib.contextmanager
  def _guard(self):
    fd = os.open(self.workdir, os.O_RDONLY)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX)
      yield
    finally:
      os.close(fd)

  def create(self, text: str) -> str | None:
    with self._guard():  # whole before any replace of this host looks at it
      try:
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
      except FileExistsError:
        return None
      with os.fdopen(fd, "w") as f:
        f.write(text)
    return text

  def read(self) -> tuple[str, str] | None:
    try:
      with open(self.path) as f:
        text = f.read()
    except FileNotFoundError:
      return None
    return text, text

  def replace(self, text: str, version: str) -> str | None:
    with self._guard():
      found = self.read()
      if found is None or found[1] != version:
        return None
      files.write_text(self.path, text)
      return text

  def delete(self, version: str) -> None:
    with self._guard():
      found = self.read()
      if found is not None and found[1] == version:
        os.unlink(self.path)


class _GcsObject:
  """In a bucket. The version is the object's generation, and every write is
  conditional on it (0: only if absent). The client retries 429s and 5xx of
  these conditional requests for up to `_DEADLINE_S`."""

  _DEADLINE_S = 30.0

  def __init__(self, workdir: str):
    from google.api_core import exceptions
    from google.cloud import storage
    self.exceptions = exceptions
    bucket, _, prefix = workdir.removeprefix("gs://").partition("/")
    self.blob_name = f"{prefix.rstrip('/')}/{LOCK_NAME}" if prefix else LOCK_NAME
    self.bucket = storage.Client().bucket(bucket)
    self.retry = storage.retry.DEFAULT_RETRY.with_deadline(self._DEADLINE_S)

  def _write(self, text: str, generation: int) -> int | None:
    blob = self.bucket.blob(self.blob_name)
    try:
      blob.upload_from_string(text, content_type="application/json",
                              if_generation_match=generation, retry=self.retry,
                              timeout=self._DEADLINE_S)
    except self.exceptions.PreconditionFailed:
      return None
    return blob.generation

  def create(self, text: str) -> int | None:
    return self._write(text, 0)

  def read(self) -> tuple[str, int] | None:
    blob = self.bucket.get_blob(self.blob_name, retry=self.retry, timeout=self._DEADLINE_S)
    if blob is None:
      return None
    try:
      text = blob.download_as_text(if_generation_match=blob.generation, retry=self.retry,
                                   timeout=self._DEADLINE_S)
    except (self.exceptions.PreconditionFailed, self.exceptions.NotFound):
      return self.read()  # changed between the two requests
    return text, blob.generation

  def replace(self, text: str, version: int) -> int | None:
    return self._write(text, version)

  def delete(self, version: int) -> None:
    with contextlib.suppress(self.exceptions.PreconditionFailed, self.exceptions.NotFound):
      self.bucket.blob(self.blob_name).delete(if_generation_match=version, retry=self.retry,
                                              timeout=self._DEADLINE_S)


def _store(workdir: str):
  if workdir.startswith("gs://"):
    try:
      return _GcsObject(workdir)
    except ImportError as e:
      raise ConfigError(f"cannot lock {workdir}: {e} (for gs://: pip install "
                        f"'mocogan-jax[gcs]')") from None
  if files.is_remote(workdir):  # another object store: no conditional writes known
    raise ConfigError(f"cannot lock {workdir}: train writes to a local folder or gs://")
  return _LocalFile(workdir)


# --- Taking, keeping and giving back the lock --------------------------------------

class Lock:
  """A held lock: `check()` before each write; renewed by `held`'s thread."""

  def __init__(self, workdir: str, store, mine: dict, version, timeout: float):
    self.workdir, self.store, self.mine, self.version = workdir, store, mine, version
    self.timeout, self.renewed = timeout, time.monotonic()
    self.lost: str | None = None
    self.changing = threading.Lock()  # a renewal and a confirmation, one at a time

  def renew(self) -> None:
    """Writes a new heartbeat if the lock is still the one this run wrote."""
    with self.changing:
      self._renew()

  def confirm(self) -> None:
    """Reads the lock back (one request) and raises LockLost unless it is the
    one this run last wrote: before a checkpoint, which a heartbeat's
    interval must not let through after a takeover."""
    with self.changing:
      if not self.lost:
        found = self.store.read()
        if found is None or found[1] != self.version:
          self.lost = (f"it was taken over by {_describe(_parse(found[0]))}" if found
                       else "it was removed")
    self.check()

  def _renew(self) -> None:
    asked = time.monotonic()
    try:
      version = self.store.replace(json.dumps(self.mine | {"heartbeat": time.time()}),
                                   self.version)
    except Exception as e:  # storage away: lost only once others may take it over
      if time.monotonic() - self.renewed > self.timeout:
        self.lost = f"could not renew it for {self.timeout:g} s ({files.storage_cause(e)})"
      return
    if version is None:
      found = None
      with contextlib.suppress(Exception):
        found = self.store.read()
      holder = _parse(found[0]) if found else {}
      self.lost = (f"it was taken over by {_describe(holder)}" if found
                   else "it was removed")
      return
    self.version, self.renewed = version, asked

  def check(self) -> None:
    """LockLost once the lock is lost, or once `timeout` has passed since the
    last renewal began (a process paused that long may have been taken over
    before its heartbeat thread could tell)."""
    if not self.lost and time.monotonic() - self.renewed > self.timeout:
      self.lost = f"its last renewal is over {self.timeout:g} s old"
    if self.lost:
      raise LockLost(f"lost the lock of {self.workdir}: {self.lost}; this run stops and "
                     f"writes nothing more to it")

  def release(self) -> None:
    if not self.lost:
      with contextlib.suppress(Exception):
        self.store.delete(self.version)


def _parse(text: str) -> dict:
  try:
    holder = json.loads(text)
  except ValueError:  # a file of something else
    return {}
  return holder if isinstance(holder, dict) else {}


def acquire(workdir: str, timeout: float) -> Lock:
  """Takes the lock of `workdir` (which exists); WorkdirLocked if a live
  holder has it, ConfigError naming the workdir if storage fails."""
  store = _store(workdir)
  now = time.time()
  mine = {"host": socket.gethostname(), "pid": os.getpid(), "started": now, "heartbeat": now}
  text, holder = json.dumps(mine), {}
  try:
    for _ in range(5):  # each pass loses only to another writer's change
      version = store.create(text)
      if version is not None:
        return Lock(workdir, store, mine, version, timeout)
      found = store.read()
      if found is None:  # released meanwhile
        continue
      # A lock read half written looks unreadable, and the replace below,
      # which checks what it read under the guard, fails on it.
      holder = _parse(found[0])
      reason = stale_reason(holder, timeout, now) if holder else "it is unreadable"
      if reason is None:
        break
      version = store.replace(text, found[1])
      if version is not None:
        print(f"warning: took over the lock of {workdir} from {_describe(holder)}: {reason}",
              file=sys.stderr, flush=True)
        return Lock(workdir, store, mine, version, timeout)
  except (WorkdirLocked, ConfigError):
    raise
  except Exception as e:
    raise ConfigError(f"cannot take the lock of {workdir}: {files.storage_cause(e)}") from None
  raise WorkdirLocked(f"{workdir} is being trained by {_describe(holder)} (its {LOCK_NAME}); "
                      f"wait for it, stop it, or use another workdir")


@contextlib.contextmanager
def held(workdir: str, timeout: float):
  """The lock of `workdir` for the duration of the block, its heartbeat renewed."""
  lock = acquire(workdir, timeout)
  stop = threading.Event()

  def beat():
    while not lock.lost and not stop.wait(heartbeat_s(timeout)):
      lock.renew()

  thread = threading.Thread(target=beat, name="workdir-lock-heartbeat", daemon=True)
  thread.start()
  try:
    yield lock
  finally:
    stop.set()
    thread.join()
    lock.release()

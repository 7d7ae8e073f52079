"""One writer per workdir: `train` holds WORKDIR/train.lock while it runs.

The lock is a small JSON file naming its holder (host, pid, start time) and
a heartbeat that a background thread renews every `HEARTBEAT_S` seconds. A
second `train` on the same workdir refuses in one line naming the holder. A
lock is stale, and is taken over with a warning, when its holder is a dead
process on this host or its heartbeat is older than `timeout` seconds (a
holder on another host, which cannot be asked). Readers (sample, evaluate,
export) take no lock.

    with workdir_lock.held(workdir, timeout=600):
      ...  # train

On local disks the lock is created atomically (O_EXCL); on object storage
(gs://) there is no atomic create, so two writers starting in the same second
can both get it.
"""

import contextlib
import json
import os
import socket
import sys
import threading
import time

from etils import epath

from mocogan_jax import files
from mocogan_jax.errors import ConfigError

LOCK_NAME = "train.lock"
HEARTBEAT_S = 30.0


class WorkdirLocked(ConfigError):
  """Another live `train` holds the workdir; the message names it."""


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
  started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(holder.get("started", 0))))
  return f"pid {holder.get('pid')} on {holder.get('host')}, started {started}"


def _create(path: str, text: str) -> bool:
  """Writes `path` only if it does not exist; False if it does."""
  if files.is_remote(path):
    if files.exists(path):
      return False
    files.write_text(path, text)
    return True
  try:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
  except FileExistsError:
    return False
  with os.fdopen(fd, "w") as f:
    f.write(text)
  return True


def acquire(workdir: str, timeout: float) -> dict:
  """Takes the lock of `workdir` (which exists) and returns what it holds;
  WorkdirLocked if a live holder has it."""
  path = f"{workdir}/{LOCK_NAME}"
  now = time.time()
  mine = {"host": socket.gethostname(), "pid": os.getpid(), "started": now, "heartbeat": now}
  if _create(path, json.dumps(mine)):
    return mine
  try:
    holder = json.loads(files.read_text(path))
  except (OSError, ValueError):  # a holder killed mid-write, or a file of something else
    holder = {}
  reason = stale_reason(holder, timeout, now) if holder else "it is unreadable"
  if reason is None:
    raise WorkdirLocked(f"{workdir} is being trained by {_describe(holder)} (its {LOCK_NAME}); "
                        f"wait for it, stop it, or use another workdir")
  print(f"warning: taking over the lock of {workdir} from "
        f"{_describe(holder) if holder else 'an unknown holder'}: {reason}",
        file=sys.stderr, flush=True)
  files.write_text(path, json.dumps(mine))
  return mine


def release(workdir: str, mine: dict) -> None:
  """Removes the lock if it is still `mine` (not taken over meanwhile)."""
  path = epath.Path(f"{workdir}/{LOCK_NAME}")
  try:
    holder = json.loads(path.read_text())
  except (OSError, ValueError):
    return
  if (holder.get("host"), holder.get("pid"), holder.get("started")) == (
      mine["host"], mine["pid"], mine["started"]):
    path.unlink()


@contextlib.contextmanager
def held(workdir: str, timeout: float):
  """The lock of `workdir` for the duration of the block, its heartbeat renewed."""
  mine = acquire(workdir, timeout)
  stop = threading.Event()

  def beat():
    while not stop.wait(HEARTBEAT_S):
      try:
        files.write_text(f"{workdir}/{LOCK_NAME}", json.dumps(mine | {"heartbeat": time.time()}))
      except OSError:  # a full disk is the checkpoint writer's to report
        pass

  thread = threading.Thread(target=beat, name="workdir-lock-heartbeat", daemon=True)
  thread.start()
  try:
    yield mine
  finally:
    stop.set()
    thread.join()
    release(workdir, mine)

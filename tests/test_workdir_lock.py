"""One writer per workdir: a live holder refuses a second train in one line,
a dead or silent one is taken over, readers take no lock."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import cpu_env
from mocogan_jax import workdir_lock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _hold(workdir, pid, host=None, heartbeat=None):
  now = time.time()
  holder = {"host": host or socket.gethostname(), "pid": pid, "started": now - 5,
            "heartbeat": now if heartbeat is None else heartbeat}
  with open(os.path.join(workdir, workdir_lock.LOCK_NAME), "w") as f:
    json.dump(holder, f)


def test_a_second_train_on_a_held_workdir_is_one_line_naming_the_holder(tmp_path, data_dir):
  workdir = str(tmp_path)
  holder = subprocess.Popen(["sleep", "120"])
  try:
    _hold(workdir, holder.pid)
    result = subprocess.run(
        [sys.executable, "-m", "mocogan_jax.cli", "train", "--config", "tiny", "--workdir",
         workdir, f"data_dir={data_dir}", "num_steps=1"],
        env=cpu_env(1), capture_output=True, text=True, timeout=600, cwd=ROOT)
  finally:
    holder.kill()
    holder.wait()
  assert result.returncode == 2, result.stderr[-2000:]
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and f"is being trained by pid {holder.pid} on" in lines[0], lines
  assert not os.path.exists(os.path.join(workdir, "checkpoints"))


def test_a_dead_or_silent_holder_is_taken_over_and_a_live_one_is_not(tmp_path, capsys):
  workdir = str(tmp_path)
  gone = subprocess.Popen(["true"])
  gone.wait()
  for stale in ({"pid": gone.pid},  # died on this host
                {"pid": 1, "host": "elsewhere", "heartbeat": time.time() - 700}):
    _hold(workdir, **stale)
    with workdir_lock.held(workdir, timeout=600):
      assert json.loads(open(os.path.join(workdir, "train.lock")).read())["pid"] == os.getpid()
    assert "warning: took over the lock of" in capsys.readouterr().err
    assert not os.path.exists(os.path.join(workdir, "train.lock"))  # released
  for live in ({"pid": os.getpid()}, {"pid": 1, "host": "elsewhere"}):
    _hold(workdir, **live)
    with pytest.raises(workdir_lock.WorkdirLocked, match="is being trained by pid"):
      workdir_lock.acquire(workdir, timeout=600)


def test_a_holder_taken_over_loses_its_lock_and_leaves_the_new_one_alone(tmp_path):
  workdir = str(tmp_path)
  old = workdir_lock.acquire(workdir, timeout=600)
  time.sleep(0.05)
  new = workdir_lock.acquire(workdir, timeout=0.01)  # old's heartbeat is "silent" to it
  old.renew()
  with pytest.raises(workdir_lock.LockLost, match=f"taken over by pid {os.getpid()} on "):
    old.check()
  old.release()
  assert json.loads(open(os.path.join(workdir, "train.lock")).read())["started"] == (
      new.mine["started"])
  new.renew()
  new.check()
  new.release()
  assert not os.path.exists(os.path.join(workdir, "train.lock"))


def race(workdir: str, writers: int = 8) -> list:
  """`writers` threads take the lock of `workdir` at once -> what each got."""
  import concurrent.futures
  import threading
  start = threading.Barrier(writers)

  def take(_):
    start.wait()
    try:
      return workdir_lock.acquire(workdir, timeout=600)
    except workdir_lock.WorkdirLocked as e:
      return e

  with concurrent.futures.ThreadPoolExecutor(writers) as pool:
    return list(pool.map(take, range(writers)))


def test_writers_starting_together_on_a_disk_get_one_lock(tmp_path):
  for i in range(10):
    os.mkdir(tmp_path / f"race{i}")
    got = race(str(tmp_path / f"race{i}"))
    held = [g for g in got if isinstance(g, workdir_lock.Lock)]
    assert len(held) == 1, got
    assert all("is being trained by pid" in str(g) for g in got if g not in held)

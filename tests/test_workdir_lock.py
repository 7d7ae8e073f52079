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
    with workdir_lock.held(workdir, timeout=600) as mine:
      assert json.loads(open(os.path.join(workdir, "train.lock")).read())["pid"] == os.getpid()
    assert "warning: taking over the lock of" in capsys.readouterr().err
    assert not os.path.exists(os.path.join(workdir, "train.lock"))  # released
  for live in ({"pid": os.getpid()}, {"pid": 1, "host": "elsewhere"}):
    _hold(workdir, **live)
    with pytest.raises(workdir_lock.WorkdirLocked, match="is being trained by pid"):
      workdir_lock.acquire(workdir, timeout=600)
  # A holder that lost its lock to a takeover leaves the new holder's file alone.
  _hold(workdir, 1, host="elsewhere")
  workdir_lock.release(workdir, mine)
  assert os.path.exists(os.path.join(workdir, "train.lock"))

"""Workdirs on a GCS-protocol server (fake-gcs-server on 127.0.0.1, the
`gcs_bucket` fixture): the workdir lock's preconditions, two trains started
together, and a holder taken over."""

import os
import subprocess
import sys
import time

from conftest import cpu_env
from mocogan_jax import workdir_lock
from test_workdir_lock import race

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _steps_saved(workdir: str) -> set:
  """The steps of the complete checkpoints under WORKDIR/checkpoints."""
  from google.cloud import storage
  bucket, _, prefix = workdir.removeprefix("gs://").partition("/")
  names = [b.name for b in storage.Client().list_blobs(bucket, prefix=f"{prefix}/checkpoints/")]
  return {int(n.split("/")[2]) for n in names
          if n.split("/")[2].isdigit() and n.endswith("/_CHECKPOINT_METADATA")}


def test_writers_starting_together_on_gcs_get_one_lock(gcs_bucket):
  for i in range(20):
    got = race(f"{gcs_bucket}/race{i}", writers=2)
    held = [g for g in got if isinstance(g, workdir_lock.Lock)]
    assert len(held) == 1, got
    assert all("is being trained by pid" in str(g) for g in got if g not in held)
    held[0].release()


def _train(workdir, data_dir, log, *overrides):
  """A `train` subprocess, its output to the file `log` (a pipe nobody reads
  would stop it once full)."""
  with open(log, "w") as out:
    return subprocess.Popen(
        [sys.executable, "-m", "mocogan_jax.cli", "train", "--config", "tiny", "--workdir",
         workdir, f"data_dir={data_dir}", *overrides],
        env=cpu_env(1), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)


def test_two_trains_started_together_on_gcs_are_one_writer_and_one_line(gcs_bucket, data_dir,
                                                                        tmp_path):
  workdir = f"{gcs_bucket}/together"
  logs = [tmp_path / f"{i}.log" for i in range(2)]
  runs = [_train(workdir, data_dir, log, "num_steps=2", "checkpoint_every=2") for log in logs]
  results = [(run.wait(timeout=600), log.read_text()) for run, log in zip(runs, logs)]
  codes = sorted(code for code, _ in results)
  assert codes == [0, 2], [(code, out[-1500:]) for code, out in results]
  (refused,) = [out for code, out in results if code == 2]
  (line,) = [line for line in refused.splitlines() if "error:" in line]
  assert f"{workdir} is being trained by pid " in line, line
  assert _steps_saved(workdir) == {2}


def test_a_holder_taken_over_stops_before_its_next_write(gcs_bucket, data_dir, tmp_path):
  """Taken over by a writer that judges it silent, the holder stops within
  one heartbeat (1 s at lock_timeout=4) with one line naming the new holder,
  and no checkpoint newer than the one it may have had in flight appears.
  (The holder is not paused with SIGSTOP: stopped in the middle of an upload,
  it would hold up fake-gcs-server's other requests, which GCS would not.)"""
  workdir = f"{gcs_bucket}/taken"
  log = tmp_path / "run.log"
  run = _train(workdir, data_dir, log, "num_steps=100000", "checkpoint_every=5",
               "lock_timeout=4", "log_every=5")
  try:
    while not _steps_saved(workdir):
      assert run.poll() is None, log.read_text()[-2000:]
      time.sleep(0.5)
    new = workdir_lock.acquire(workdir, timeout=0.01)  # its last heartbeat is "too old"
    saved = _steps_saved(workdir)
    code = run.wait(timeout=30)
  finally:
    run.kill()
  out = log.read_text()
  assert code == 1, out[-2000:]
  (line,) = [line for line in out.splitlines() if "error:" in line]
  assert (f"lost the lock of {workdir}: it was taken over by pid {os.getpid()}" in line
          and "writes nothing more" in line), line
  assert max(_steps_saved(workdir)) <= max(saved) + 5, (saved, _steps_saved(workdir))
  new.release()

"""Workdirs on a GCS-protocol server (fake-gcs-server on 127.0.0.1, the
`gcs_bucket` fixture): the workdir lock's preconditions, two trains started
together, a holder taken over, readers of a gs:// workdir, and a run killed
while saving that resumes to the same bits."""

import json
import os
import random
import subprocess
import sys
import time

from conftest import cli, cpu_env
from gcs_server import FaultProxy, client_env
from mocogan_jax import workdir_lock
from test_workdir_lock import race

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _steps_saved(workdir: str) -> set:
  """The steps of the complete checkpoints under WORKDIR/checkpoints (on a
  bucket orbax marks a finished one with commit_success.txt)."""
  from google.cloud import storage
  bucket, _, prefix = workdir.removeprefix("gs://").partition("/")
  names = [b.name for b in storage.Client().list_blobs(bucket, prefix=f"{prefix}/checkpoints/")]
  return {int(n.split("/")[2]) for n in names
          if n.split("/")[2].isdigit() and n.endswith("/commit_success.txt")}


def test_writers_starting_together_on_gcs_get_one_lock(gcs_bucket):
  for i in range(20):
    got = race(f"{gcs_bucket}/race{i}", writers=2)
    held = [g for g in got if isinstance(g, workdir_lock.Lock)]
    assert len(held) == 1, got
    assert all("is being trained by pid" in str(g) for g in got if g not in held)
    held[0].release()


def _train(workdir, data_dir, log, *overrides, storage_url=None):
  """A `train` subprocess, its output to the file `log` (a pipe nobody reads
  would stop it once full), its storage at `storage_url` (else the server's)."""
  env = cpu_env(1) | (client_env(storage_url) if storage_url else {})
  with open(log, "w") as out:
    return subprocess.Popen(
        [sys.executable, "-m", "mocogan_jax.cli", "train", "--config", "tiny", "--workdir",
         workdir, f"data_dir={data_dir}", *overrides],
        env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)


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
  # What readers make of it: samples, an evaluation, the exported generator.
  cli("sample", "--workdir", workdir, "--out", str(tmp_path / "s.gif"), "--num", "2")
  _, out, _ = cli("evaluate", "--workdir", workdir, "--metrics", "acd", "--num", "4")
  assert "acd" in out.lower(), out
  cli("export", "--workdir", workdir, "--out", str(tmp_path / "g.msgpack"))
  assert (tmp_path / "s.gif").stat().st_size > 0 and (tmp_path / "g.msgpack").stat().st_size > 0


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


def _logged(workdir: str) -> list[dict]:
  """metrics.jsonl without steps_per_second, read through the bucket."""
  from mocogan_jax import files
  if not files.exists(f"{workdir}/metrics.jsonl"):
    return []
  lines = [json.loads(line) for line in files.read_text(f"{workdir}/metrics.jsonl").splitlines()]
  return [{k: v for k, v in line.items() if k != "steps_per_second"} for line in lines]


def test_killed_on_gcs_while_saving_resumes_to_the_same_bits(gcs_bucket, data_dir, tmp_path):
  """SIGKILL with checkpoints saved in the background every 3 steps (so most
  kills land in a save), then the same command: every logged step equals an
  uninterrupted run's, on the bucket as on a disk."""
  steps = ["num_steps=30", "log_every=1", "checkpoint_every=3", "sample_every=100000"]
  reference = str(tmp_path / "reference")
  cli("train", "--config", "tiny", "--workdir", reference, f"data_dir={data_dir}", *steps)
  workdir = f"{gcs_bucket}/killed"
  log = tmp_path / "run.log"
  run = _train(workdir, data_dir, log, *steps)
  kill_at = random.randrange(8, 25)
  while len(_logged(workdir)) < kill_at and run.poll() is None:
    time.sleep(0.05)
  run.kill()
  run.wait()
  killed_at = len(_logged(workdir))
  assert killed_at < 30, log.read_text()[-2000:]
  resumed = _train(workdir, data_dir, tmp_path / "resumed.log", *steps)
  assert resumed.wait(timeout=600) == 0, (tmp_path / "resumed.log").read_text()[-2000:]
  assert "resuming from step" in (tmp_path / "resumed.log").read_text()
  with open(os.path.join(reference, "metrics.jsonl")) as f:
    expected = [{k: v for k, v in json.loads(line).items() if k != "steps_per_second"}
                for line in f]
  assert _logged(workdir) == expected, f"killed after {killed_at} lines"


def test_a_bucket_that_cannot_be_reached_is_one_line(monkeypatch):
  import pytest
  from mocogan_jax.errors import ConfigError
  monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")  # nothing listens there
  monkeypatch.setattr(workdir_lock._GcsObject, "_DEADLINE_S", 2.0)
  with pytest.raises(ConfigError) as refused:
    workdir_lock.acquire("gs://bucket/unreachable", timeout=600)
  assert str(refused.value) == ("cannot take the lock of gs://bucket/unreachable: no answer in "
                                "2 s of retries (last: ConnectionError)")


def test_the_metrics_log_is_appended_on_gcs(gcs_bucket):
  """Each record is sent once (composed onto the file on the server), and no
  part is left behind."""
  from google.cloud import storage
  from test_files import check_metrics_log
  check_metrics_log(f"{gcs_bucket}/log")
  names = [b.name for b in storage.Client().list_blobs("bucket", prefix="log/")]
  assert names == ["log/metrics.jsonl"], names


def test_tensorboard_events_on_gcs_are_appended(gcs_bucket):
  """TensorBoard's event file on gs:// gets each flush's new records, composed
  on the server (tensorboardX's own writer uploads the whole file each time):
  every scalar is in it once."""
  import struct
  from mocogan_jax import files
  writer = files.summary_writer(f"{gcs_bucket}/tb")
  for step in range(5):
    writer.add_scalar("loss", float(step), step)
    writer.flush()
  writer.close()
  from google.cloud import storage
  (blob,) = storage.Client().list_blobs("bucket", prefix="tb/")
  data, records = blob.download_as_bytes(), 0
  while data:  # a record: length (8 bytes), its crc (4), the event, its crc (4)
    (length,) = struct.unpack("<Q", data[:8])
    data, records = data[16 + length:], records + 1
  assert records == 6  # the file version and five scalars


CLIENTS = ("tensorstore", "python-gcsfs", "gcloud-python")  # orbax's arrays; epath; lock, metrics


def test_faults_between_trainer_and_bucket_are_retried_then_storage_lost_is_one_line(
    gcs_server, data_dir, tmp_path):
  """Through a proxy that injects faults: each storage client of a run meets a
  burst of 503s, a burst of 429s and an upload cut halfway; then, from the
  middle of the step-9 checkpoint on, storage refuses everything (403): one
  line, exit 1. Once storage is back the same command resumes from step 6, the
  newest complete checkpoint, and every step equals an uninterrupted run's."""
  steps = ["num_steps=12", "log_every=1", "checkpoint_every=3", "sample_every=6"]
  reference = str(tmp_path / "reference")
  cli("train", "--config", "tiny", "--workdir", reference, f"data_dir={data_dir}", *steps)
  workdir = "gs://bucket/faults"
  proxy = FaultProxy(gcs_server)
  try:
    for client in CLIENTS:
      sent_by = lambda method, path, agent, client=client: agent.startswith(client)
      uploaded_by = lambda method, path, agent, client=client: (
          agent.startswith(client) and method in ("POST", "PUT") and "/upload/" in path)
      proxy.add(sent_by, 8, 2, 503)
      proxy.add(sent_by, 30, 2, 429)
      proxy.add(uploaded_by, 4, 1, "drop")
    step_9_uploads = []
    def lost(method, path, agent):  # from the 4th array upload after checkpoint 6 on
      if (agent.startswith("tensorstore") and "/upload/" in path and not step_9_uploads[3:]
          and 6 in _steps_saved(workdir)):
        step_9_uploads.append(path)
      return len(step_9_uploads) >= 4
    proxy.add(lost, 0, 10**9, 403)
    log = tmp_path / "run.log"
    run = _train(workdir, data_dir, log, *steps, storage_url=proxy.url)
    code = run.wait(timeout=600)
    out = log.read_text()
    assert code == 1, out[-3000:]
    assert proxy.hits[:-1] == [2, 2, 1] * len(CLIENTS), proxy.hits
    # Nothing after the line: the command keeps quiet the library threads
    # still unwinding (cli.run), which printed hundreds of lines here.
    errors = [line for line in out.splitlines() if "error:" in line]
    assert len(errors) == 1 and out.splitlines()[-1] == errors[0], out[-5000:]
    assert ("403" in errors[0] or "PERMISSION_DENIED" in errors[0]) and len(errors[0]) < 400, errors[0]
  finally:
    proxy.close()
  assert max(_steps_saved(workdir)) == 6
  resumed = _train(workdir, data_dir, tmp_path / "resumed.log", *steps)
  assert resumed.wait(timeout=600) == 0, (tmp_path / "resumed.log").read_text()[-3000:]
  assert "resuming from step 6" in (tmp_path / "resumed.log").read_text()
  assert _logged(workdir) == _logged(reference)

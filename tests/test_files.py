"""Workdir files through etils.epath: the same calls on a local disk and on
object storage (gs:// mocked onto a local folder by etils' own test helper)."""

import contextlib
import json
import os

import pytest
from etils import epath
from etils.epath import testing as epath_testing

from mocogan_jax import files


def check_metrics_log(root: str) -> None:
  """Three records, then a resume that keeps the lines through step 2."""
  log = files.MetricsLog(f"{root}/metrics.jsonl")
  for step in (1, 2, 3):
    log.write({"step": step, "loss": 0.5})
  resumed = files.MetricsLog(f"{root}/metrics.jsonl", keep_through=2)
  resumed.write({"step": 3, "loss": 0.25})
  lines = [json.loads(line) for line in files.read_text(f"{root}/metrics.jsonl").splitlines()]
  assert lines == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.5}, {"step": 3, "loss": 0.25}]


@pytest.mark.parametrize("remote", [False, True])
def test_workdir_files_on_a_local_disk_and_on_object_storage(tmp_path, remote, monkeypatch):
  monkeypatch.chdir(tmp_path)  # the mock keeps gs://bucket/... as ./gs:/bucket/...
  with epath_testing.mock_epath() if remote else contextlib.nullcontext():
    root = "gs://bucket/run" if remote else str(tmp_path / "run")
    files.check_writable(root)
    files.write_text(f"{root}/config.json", '{"a": 1}')
    assert json.loads(files.read_text(f"{root}/config.json")) == {"a": 1}
    files.write_bytes(f"{root}/samples/step_0000002.gif", b"GIF89a")
    assert files.read_bytes(f"{root}/samples/step_0000002.gif") == b"GIF89a"

    # (MetricsLog composes on gs://, which the mock does not have: test_gcs.py.)
    check_metrics_log(root) if not remote else files.write_text(f"{root}/metrics.jsonl", "")
    # No temporary files are left behind.
    assert sorted(p.name for p in epath.Path(root).iterdir()) == [
        "config.json", "metrics.jsonl", "samples"]
  assert files.absolute("gs://bucket/run") == "gs://bucket/run"


def test_a_missing_storage_package_is_one_clear_error(tmp_path, monkeypatch):
  from mocogan_jax.errors import ConfigError
  monkeypatch.chdir(tmp_path)

  def no_gcsfs(*args, **kwargs):
    raise ImportError("Please install gcsfs to access Google Storage")

  with epath_testing.mock_epath(exists=no_gcsfs, mkdir=no_gcsfs, makedirs=no_gcsfs):
    with pytest.raises(ConfigError, match=r"cannot reach gs://bucket/run.*mocogan-jax\[gcs\]"):
      files.check_writable("gs://bucket/run")
    with pytest.raises(ConfigError, match="cannot reach gs://bucket/run/config.json"):
      files.exists("gs://bucket/run/config.json")


def test_the_gcsfs_bucket_probe_is_off_unless_the_user_set_it():
  import subprocess
  import sys
  read = "import mocogan_jax.files, os; print(os.environ['GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT'])"
  env = {k: v for k, v in os.environ.items() if k != "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"}
  for given, seen in ((None, "false"), ("true", "true")):
    run_env = env if given is None else dict(env, GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=given)
    out = subprocess.run([sys.executable, "-c", read], env=run_env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == seen

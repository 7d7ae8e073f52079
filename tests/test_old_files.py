"""Files an earlier release wrote (tests/fixtures/release_*/: a run's config,
its checkpoint, its exported file) still restore, sample and train on; a
file this release cannot read is refused in one line naming the version that
wrote it."""

import json
import os
import pathlib
import shutil

import pytest
from flax import serialization

from mocogan_jax import config as config_lib, provenance, registry
from mocogan_jax.errors import ConfigError

from conftest import cli, logged_metrics

RELEASE = pathlib.Path(__file__).parent / "fixtures" / "release_0.1.0"


@pytest.fixture
def old_run(tmp_path):
  """A copy of the earlier release's run: the tests write into it."""
  run = tmp_path / "run"
  shutil.copytree(RELEASE, run)
  return run


def test_the_old_config_resolves_to_the_same_settings():
  """Every saved setting as it was; settings added since take their defaults,
  which leave the model as it was."""
  saved = json.loads((RELEASE / "config.json").read_text())
  resolved = json.loads(registry.resolve(str(RELEASE / "config.json")).to_json())
  assert {k: resolved[k] for k in saved} == saved
  defaults = json.loads(config_lib.Config().to_json())
  assert {k: resolved[k] for k in resolved.keys() - saved.keys()} == {
      k: defaults[k] for k in resolved.keys() - saved.keys()}


def test_the_old_checkpoint_samples_and_trains_on(old_run, data_dir, tmp_path):
  code, out, err = cli("sample", "--workdir", str(old_run), "--out", str(tmp_path / "a.gif"),
                       "--num", "2")
  assert os.path.getsize(tmp_path / "a.gif") > 0
  code, out, err = cli("train", "--workdir", str(old_run), f"data_dir={data_dir}", "num_steps=6")
  assert "resuming from step 4" in err + out
  steps = [line["step"] for line in logged_metrics(str(old_run))]
  assert steps == [2, 4, 6], steps
  assert (old_run / "checkpoints" / "6").is_dir() and (old_run / "checkpoints" / "4").is_dir()


def test_the_old_exported_file_samples_and_a_new_one_names_its_writer(tmp_path):
  cli("sample", "--params", str(RELEASE / "exported.msgpack"), "--out",
      str(tmp_path / "b.gif"), "--num", "2")
  assert os.path.getsize(tmp_path / "b.gif") > 0
  fresh = tmp_path / "fresh.msgpack"
  from mocogan_jax import export
  config, variables, _ = export.load(str(RELEASE / "exported.msgpack"))
  export.write(str(fresh), config, variables)
  payload = serialization.msgpack_restore(fresh.read_bytes())
  assert payload["written_by"] == provenance.written_by()
  assert payload["written_by"].startswith("mocogan-jax ")


def test_a_file_of_an_unknown_format_is_refused_naming_its_writer(tmp_path):
  payload = serialization.msgpack_restore((RELEASE / "exported.msgpack").read_bytes())
  payload |= {"format": "mocogan-jax generator 9", "written_by": "mocogan-jax 9.0.0"}
  future = tmp_path / "future.msgpack"
  future.write_bytes(serialization.msgpack_serialize(payload))
  from mocogan_jax import export
  with pytest.raises(ConfigError) as error:
    export.load(str(future))
  message = str(error.value)
  assert "'mocogan-jax generator 9' of mocogan-jax 9.0.0" in message and "\n" not in message
  code, _, err = cli("sample", "--params", str(future), "--out", str(tmp_path / "c.gif"),
                     check=False)
  assert code == 2 and len(err.strip().splitlines()) == 1 and "mocogan-jax 9.0.0" in err


def test_an_unreadable_checkpoint_names_the_version_that_wrote_it(old_run):
  from mocogan_jax import checkpointing, workdir
  # The state's arrays gone, its metadata (and so its writer) kept.
  shutil.rmtree(old_run / "checkpoints" / "4" / "state")
  (old_run / "checkpoints" / "4" / "state").mkdir()
  with pytest.raises(checkpointing.CheckpointError,
                     match=r"the newest was written by mocogan-jax 0\.1\.0 \(commit eaa707d\)"):
    workdir.load_state(str(old_run))

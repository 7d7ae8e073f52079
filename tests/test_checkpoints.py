"""Never lose a run: exact resume after SIGKILL, restore on other meshes,
damaged checkpoints, non-finite losses, export.

Runs that are killed, signalled or need other device counts are subprocesses
of the real command line, as a user runs them; the others call the same
command line in this process, which keeps its compiled programs.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import chex
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from conftest import cli, cpu_env, create_train_state, logged_metrics as _metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _train_args(workdir, data_dir, *overrides):
  return ["train", "--config", "tiny", "--workdir", workdir, f"data_dir={data_dir}",
          "sample_every=100000", *overrides]


def _command(workdir, data_dir, *overrides):
  return [sys.executable, "-m", "mocogan_jax.cli", *_train_args(workdir, data_dir, *overrides)]


def _env(devices=1):
  return cpu_env(devices)


def _run(args, devices=1, check=True):
  result = subprocess.run(args, env=_env(devices), capture_output=True, text=True, timeout=600,
                          cwd=ROOT)
  if check:
    assert result.returncode == 0, result.stderr[-3000:]
  return result


def _train(workdir, data_dir, *overrides):
  """`mocogan-jax train` on the tiny config in this process: (status, stdout, stderr)."""
  return cli(*_train_args(workdir, data_dir, *overrides), check=False)


def _lines(workdir):
  path = os.path.join(workdir, "metrics.jsonl")
  return len(open(path).readlines()) if os.path.exists(path) else 0


def _interrupt(workdir, data_dir, steps, sig, after_lines):
  """Starts a run, sends `sig` once it has logged `after_lines` steps, waits for
  the end; returns (exit status, lines logged when it ended, its output)."""
  process = subprocess.Popen(_command(workdir, data_dir, *steps), env=_env(), cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  deadline = time.monotonic() + 300
  while _lines(workdir) < after_lines and process.poll() is None:
    assert time.monotonic() < deadline
    time.sleep(0.005)
  process.send_signal(sig)
  out, _ = process.communicate(timeout=120)
  return process.returncode, _lines(workdir), out


def test_runs_killed_or_stopped_at_a_random_step_resume_bit_identically(tmp_path, data_dir):
  steps = ["num_steps=60", "log_every=1", "checkpoint_every=10"]
  reference = str(tmp_path / "reference")
  assert _train(reference, data_dir, *steps)[0] == 0

  # SIGKILL: nothing saved on the way out; the last complete checkpoint is used
  # and the metric lines written after it are written again.
  workdir = str(tmp_path / "killed")
  code, killed_at, _ = _interrupt(workdir, data_dir, steps, signal.SIGKILL,
                                  random.randrange(15, 55))
  assert code == -signal.SIGKILL and killed_at < 60, (code, killed_at)
  out = _train(workdir, data_dir, *steps)[1]
  assert "resuming from step " in out, (killed_at, out[-2000:])
  resumed_from = int(out.split("resuming from step ")[1].split()[0])
  assert resumed_from <= killed_at and resumed_from % 10 == 0, (resumed_from, killed_at)
  assert _metrics(workdir) == _metrics(reference), f"killed after {killed_at} lines"

  # SIGTERM (preemption): the step in flight finishes, is saved, exit 0.
  workdir = str(tmp_path / "stopped")
  code, stopped_at, err = _interrupt(workdir, data_dir, steps, signal.SIGTERM,
                                     random.randrange(12, 55))
  assert code == 0 and f"SIGTERM: saved step {stopped_at} to " in err, err[-2000:]
  assert str(stopped_at) in os.listdir(os.path.join(workdir, "checkpoints"))
  out = _train(workdir, data_dir, *steps)[1]
  assert f"resuming from step {stopped_at}" in out
  assert _metrics(workdir) == _metrics(reference), f"stopped after {stopped_at} lines"


def _train_on(devices, workdir, data_dir, *overrides):
  # FSDP_MIN_SIZE is lowered so that the tiny model's kernels are split too.
  code = ("import sys; from mocogan_jax import sharding; sharding.FSDP_MIN_SIZE = 256; "
          "from mocogan_jax.cli import main; main(sys.argv[1:])")
  args = _train_args(workdir, data_dir, "log_every=1", "image_batch=8", "video_batch=8",
                     *overrides)
  return _run([sys.executable, "-c", code, *args], devices=devices)


def test_init_from_on_8_devices_with_fsdp_matches_1_device(tmp_path, data_dir):
  donor, exported = str(tmp_path / "donor"), str(tmp_path / "donor.msgpack")
  one_device = ("log_every=1", "image_batch=8", "video_batch=8", "num_steps=2")
  assert _train(donor, data_dir, *one_device)[0] == 0
  cli("export", "--workdir", donor, "--out", exported)
  # The file holds what a run continues from: the generator and both discriminators.
  from mocogan_jax import export
  assert set(export.load_networks(exported)[1]) == {"generator", "image_discriminator",
                                                    "video_discriminator"}
  one, eight = str(tmp_path / "one"), str(tmp_path / "eight")
  assert _train(one, data_dir, *one_device, f"init_from={exported}")[0] == 0
  _train_on(8, eight, data_dir, "num_steps=2", "mesh_fsdp=4", f"init_from={exported}")
  for a, b in zip(_metrics(one), _metrics(eight), strict=True):
    for k in a:
      np.testing.assert_allclose(b[k], a[k], rtol=1e-5, err_msg=f"step {a['step']} {k}")
  # The donor's own first step started from random weights, these from its last.
  assert _metrics(one)[0]["loss/generator"] != _metrics(donor)[0]["loss/generator"]


def _files(folder):
  """(path below folder, size) of every file in it."""
  return sorted((os.path.relpath(os.path.join(d, f), folder), os.path.getsize(os.path.join(d, f)))
                for d, _, names in os.walk(folder) for f in names)


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, data_dir, damage):
  workdir = str(tmp_path / "run")
  assert _train(workdir, data_dir, "num_steps=4", "checkpoint_every=2", "log_every=1")[0] == 0
  newest = os.path.join(workdir, "checkpoints", "4")
  for folder, _, files in os.walk(os.path.join(newest, "state")):
    for name in files:
      path = os.path.join(folder, name)
      if damage == "delete":
        os.remove(path)
      else:
        with open(path, "r+b") as f:
          f.truncate(os.path.getsize(path) // 2)

  listing = _files(newest)
  # A reader (here sample) uses step 2, says so in one line, and changes nothing.
  _, _, err = cli("sample", "--workdir", workdir, "--out", str(tmp_path / "x.gif"), "--num", "2")
  warnings = [line for line in err.splitlines() if line.startswith("warning:")]
  assert len(warnings) == 1 and "checkpoint 4 in" in warnings[0], err
  assert "is unreadable" in warnings[0] and warnings[0].endswith("using step 2"), warnings
  assert _files(newest) == listing
  # train moves it aside, keeping its files, and writes step 4 again.
  status, out, err = _train(workdir, data_dir, "num_steps=6", "checkpoint_every=2", "log_every=1")
  assert status == 0 and "moved the unreadable checkpoint(s) 4 to" in err, err
  assert "resuming from step 2" in out
  aside = os.path.join(workdir, "checkpoints.unreadable", "4")
  assert _files(aside) == listing
  assert [m["step"] for m in _metrics(workdir)] == [1, 2, 3, 4, 5, 6]
  assert not os.path.exists(os.path.join(workdir, "train.lock"))


def test_retention_keeps_the_newest_and_every_nth(tmp_path, data_dir):
  workdir = str(tmp_path / "run")
  assert _train(workdir, data_dir, "num_steps=10", "checkpoint_every=2", "keep_checkpoints=1",
                "keep_checkpoint_every=4")[0] == 0
  assert sorted(map(int, os.listdir(os.path.join(workdir, "checkpoints")))) == [4, 8, 10]


def test_a_non_finite_loss_is_one_line_from_the_command_line(tmp_path, data_dir):
  # A huge learning rate: the discriminators blow up in step 1 and G's loss with them.
  status, _, err = _train(str(tmp_path), data_dir, "num_steps=5", "learning_rate=1e30")
  assert status == 1 and "Traceback" not in err, err[-2000:]
  message = err.strip().splitlines()[-1]
  assert "non-finite loss/" in message and "at step 1;" in message, message


def test_non_finite_losses_stop_before_a_bad_checkpoint_or_are_skipped(tmp_path, tiny_config,
                                                                        monkeypatch, request):
  from mocogan_jax import checkpointing, losses, registry, sharding, train_loop
  config = tiny_config.replace(num_steps=2, checkpoint_every=1, log_every=2, keep_checkpoints=9)
  workdir = str(tmp_path / "run")
  train_loop.train(config, workdir)
  # From step 3 on, G's loss is NaN: compiled steps are kept per config, so
  # they are dropped for the patched loss to be traced in.
  monkeypatch.setattr(losses, "generator_loss", lambda logits: jnp.full((), jnp.nan))
  jax.clear_caches()
  request.addfinalizer(jax.clear_caches)  # no later test meets the patched step

  with pytest.raises(train_loop.TrainingError, match="non-finite loss/generator at step 3;"):
    train_loop.train(config.replace(num_steps=5), workdir)
  mngr = checkpointing.manager(os.path.join(workdir, "checkpoints"))
  assert list(mngr.all_steps()) == [1, 2]  # nothing saved from the bad step on

  train_loop.train(config.replace(num_steps=5, nonfinite="skip"), workdir)
  lines = _metrics(workdir)
  assert [(m["step"], m.get("skipped_steps")) for m in lines] == [(2, None), (4, 2), (5, 1)]
  assert "loss/generator" not in lines[1]  # no mean over no steps
  mngr = checkpointing.manager(os.path.join(workdir, "checkpoints"))
  abstract = registry.abstract_train_state(config, sharding.make_mesh(config))
  saved = {s: checkpointing.restore(mngr, s, abstract)[0] for s in (2, 5)}
  assert int(saved[5].step) == 5  # the steps ran and moved on through the data...
  chex.assert_trees_all_equal(saved[5].generator, saved[2].generator)  # ...changing nothing


def test_export_then_sample_from_the_file_alone(tmp_path, data_dir):
  workdir = str(tmp_path / "run")
  assert _train(workdir, data_dir, "num_steps=2")[0] == 0
  params = str(tmp_path / "generator.msgpack")
  cli("export", "--workdir", workdir, "--out", params)
  from_workdir = str(tmp_path / "from_workdir.gif")
  cli("sample", "--workdir", workdir, "--out", from_workdir, "--num", "2")
  shutil.rmtree(workdir)
  from_file = str(tmp_path / "from_file.gif")
  cli("sample", "--params", params, "--out", from_file, "--num", "2")
  assert open(from_file, "rb").read() == open(from_workdir, "rb").read()

  for args, message in [
      (["--params", from_file], "is not a file written by 'mocogan-jax export'"),
      (["--params", params, "--workdir", workdir], "one of --workdir"),
      ([], "one of --workdir")]:
    status, _, err = cli("sample", *args, "--out", str(tmp_path / "x.gif"), check=False)
    assert status == 2 and message in err, err[-2000:]
    assert len(err.strip().splitlines()) == 1, err


def test_a_checkpoint_of_another_layout_is_one_clear_error(tmp_path):
  import jax
  from mocogan_jax import checkpointing
  mngr = checkpointing.manager(str(tmp_path / "old"), keep=1)
  checkpointing.save_with_meta(mngr, 5, {"trunk": jnp.zeros(3)}, {"settings": {}})
  mngr.wait_until_finished()
  newer = {"trunk": jnp.zeros(3), "action_trunk": jnp.zeros(2)}
  target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), newer)
  with pytest.raises(checkpointing.CheckpointError, match="another layout"):
    checkpointing.read_state(mngr, 5, target)


def test_runs_with_encoders_round_trip_and_older_runs_still_restore(tmp_path, tiny_config):
  import jax
  from mocogan_jax import checkpointing
  from mocogan_jax.models import mocogan
  for name, config in (("plain", tiny_config), ("joint", tiny_config.replace(encoder_weight=1.0)),
                       ("ema", tiny_config.replace(ema_decay=0.99))):
    state = create_train_state(config, jax.random.key(0))
    abstract = jax.eval_shape(lambda k: mocogan.create_train_state(config, k), jax.random.key(0))
    mngr = checkpointing.manager(str(tmp_path / name))
    checkpointing.save(mngr, state, config)
    mngr.wait_until_finished()
    restored = checkpointing.restore_latest(mngr, abstract)
    chex.assert_trees_all_equal(restored, state)
    assert (restored.encoder is None) == (name != "joint")
    assert (restored.generator_ema is None) == (name != "ema")
  # A run written before TrainState had an encoder field: the four networks alone.
  mngr = checkpointing.manager(str(tmp_path / "older"))
  older = {"step": state.step, "generator": state.generator,
           "image_discriminator": state.image_discriminator,
           "video_discriminator": state.video_discriminator}
  mngr.save(0, args=ocp.args.Composite(state=ocp.args.StandardSave(older), meta=ocp.args.JsonSave(
      {"config": tiny_config.to_json(), "next_batch_step": 0})))
  mngr.wait_until_finished()
  abstract = jax.eval_shape(lambda k: mocogan.create_train_state(tiny_config, k),
                            jax.random.key(0))
  restored = checkpointing.restore_latest(mngr, abstract)
  chex.assert_trees_all_equal(restored.generator, state.generator)
  assert restored.encoder is None


def test_an_older_run_resumes_only_with_the_defaults_of_newer_settings(tiny_config, monkeypatch):
  from mocogan_jax import checkpointing, train_loop
  from mocogan_jax.errors import ConfigError
  older = json.loads(tiny_config.to_json())
  del older["encoder_weight"]  # written before the setting existed
  monkeypatch.setattr(checkpointing, "saved_config", lambda mngr: older)
  train_loop._check_resume(tiny_config, None, "RUN")
  with pytest.raises(ConfigError, match="RUN holds a run with encoder_weight=0.0, not 1.0"):
    train_loop._check_resume(tiny_config.replace(encoder_weight=1.0), None, "RUN")


def test_keep_best_keeps_the_lowest_evaluation_beside_the_newest(tmp_path):
  from flax import struct
  from mocogan_jax import checkpointing
  from mocogan_jax.config import Config

  @struct.dataclass
  class State:
    step: jnp.ndarray
    weights: jnp.ndarray

  mngr = checkpointing.manager(str(tmp_path), keep=1, keep_best="acd")
  for step, acd in zip(range(1, 6), (5.0, 2.0, 4.0, 3.0, 6.0)):
    state = State(jnp.asarray(step), jnp.full((3,), float(step)))
    checkpointing.save(mngr, state, Config(), {"eval/acd": acd})
  checkpointing.save(mngr, State(jnp.asarray(6), jnp.zeros(3)), Config())  # no evaluation
  mngr.wait_until_finished()
  assert sorted(mngr.all_steps()) == [2, 6]
  assert checkpointing.best_step(mngr, "acd") == 2
  assert checkpointing.best_step(mngr, "fvd") is None


def test_init_from_places_every_network_of_the_file_also_without_batchnorm(tmp_path,
                                                                           tiny_config):
  """The demo's discriminators have no BatchNorm (empty batch_stats): a file
  exported from such a run starts a new one with all three networks."""
  import jax
  from mocogan_jax import export
  config = tiny_config.replace(discriminator_norm="none", ema_decay=0.999)
  donor = create_train_state(config, jax.random.key(1))
  path = str(tmp_path / "donor.msgpack")
  export.write(path, config, jax.device_get(donor.generator.variables), discriminators={
      name: jax.device_get(getattr(donor, name).variables) for name in export.DISCRIMINATORS})
  fresh = create_train_state(config, jax.random.key(2))
  started, _ = export.start_from(fresh, path)
  for name in ("generator", "image_discriminator", "video_discriminator"):
    chex.assert_trees_all_equal(getattr(started, name).variables,
                                getattr(donor, name).variables)
  chex.assert_trees_all_equal(started.generator_ema, donor.generator.variables)
  # The moving average has buffers of its own (the train step donates the state).
  pointer = lambda x: x.addressable_data(0).unsafe_buffer_pointer()
  assert not set(map(pointer, jax.tree.leaves(started.generator_ema))) & set(
      map(pointer, jax.tree.leaves(started.generator.variables)))


def test_init_from_starts_joint_encoders_from_the_file(tmp_path, tiny_config):
  """With encoder_weight > 0 the encoders train with the GAN: init_from places
  the file's encoders; without encoder_weight the run has none to place."""
  from mocogan_jax import export
  from mocogan_jax.errors import ConfigError
  config = tiny_config.replace(encoder_weight=1.0)
  donor = create_train_state(config, jax.random.key(1))
  path = str(tmp_path / "donor.msgpack")
  settings = {"content_from": "average"}
  export.write(path, config, jax.device_get(donor.generator.variables), encoders={
      "settings": json.dumps(settings), "variables": jax.device_get(donor.encoder.variables)})
  started, _ = export.start_from(create_train_state(config, jax.random.key(2)), path)
  chex.assert_trees_all_equal(started.encoder.variables, donor.encoder.variables)
  plain, _ = export.start_from(create_train_state(tiny_config, jax.random.key(2)), path)
  assert plain.encoder is None
  export.write(path, config, jax.device_get(donor.generator.variables), encoders={
      "settings": json.dumps({"content_from": "first"}),
      "variables": jax.device_get(donor.encoder.variables)})
  with pytest.raises(ConfigError, match="needs 'average'"):
    export.start_from(create_train_state(config, jax.random.key(2)), path)

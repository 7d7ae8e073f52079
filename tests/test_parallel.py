"""The same step on 1 and on 8 devices gives the same numbers.

The 1-device runs are in the test process (one CPU device); the others are
subprocesses, because the device count is fixed when JAX starts
(XLA_FLAGS=--xla_force_host_platform_device_count=N). Same config, seed,
global batches and keys: BatchNorm statistics are over the global batch and
random numbers do not depend on how arrays are sharded, so 5 steps must agree.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import cli, cpu_env, logged_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def five_steps(data_dir: str, model: str = "mocogan", fsdp: int = 1) -> dict:
  """Five steps of the registry's compiled step of the tiny config (global
  batches of 8) on every device of this process, mesh data x `fsdp`: the
  state and metrics after them by path, with the counts read from the
  program (sharded leaves, all-gathers, all-reduces, temporary bytes)."""
  import jax
  from conftest import tiny_config_with
  from mocogan_jax import aot, registry, sharding
  from mocogan_jax.data import pipeline
  unconditional = {} if model == "mocogan" else dict(
      n_categories=0, use_categories=False, use_infogan=False, noise_sigma=0.0)
  config = tiny_config_with(data_dir, image_batch=8, video_batch=8, mesh_fsdp=fsdp, model=model,
                            **unconditional)
  kept, sharding.FSDP_MIN_SIZE = sharding.FSDP_MIN_SIZE, 256  # split the tiny kernels too
  try:
    mesh = sharding.make_mesh(config)
    source = pipeline.load_source(config)
    abstract = registry.abstract_train_state(config, mesh)
    state = registry.jit_create_train_state(config, abstract)(jax.random.key(0))
    rows = sharding.batch_sharding(mesh)
    batches = [jax.device_put(pipeline.make_batch(source, config, i), rows) for i in range(5)]
    # The program the steps run, compiled once and read for its collectives and memory.
    compiled = registry.jit_train_step(config, abstract, mesh).lower(
        state, batches[0], jax.random.key(0)).compile()
  finally:
    sharding.FSDP_MIN_SIZE = kept
  for i, batch in enumerate(batches):
    state, metrics = compiled(state, batch, jax.random.key(i))
  hlo = compiled.as_text()
  flat = {jax.tree_util.keystr(p): np.asarray(x)
          for p, x in jax.tree_util.tree_leaves_with_path((state, metrics))}
  sharded = [x for x in jax.tree.leaves(state) if not x.sharding.is_fully_replicated]
  counts = {kind: c["count"] for kind, c in aot.collectives(hlo).items()}
  return dict(flat, devices=mesh.size, sharded_leaves=len(sharded),
              all_gathers=counts.get("all-gather", 0), all_reduces=counts.get("all-reduce", 0),
              reduce_scatters=counts.get("reduce-scatter", 0),
              temp_bytes=compiled.memory_analysis().temp_size_in_bytes)


def _on_eight_devices(tmp_path, data_dir: str, model: str, fsdps=(1,)) -> list[dict]:
  """five_steps on 8 devices, once per fsdp value, in one subprocess (the
  device count is fixed when JAX starts)."""
  code = ("import sys, numpy as np; sys.path.insert(0, 'tests'); import test_parallel; "
          "[np.savez(f'{sys.argv[1]}/eight_{f}.npz', **test_parallel.five_steps(sys.argv[2], "
          "sys.argv[3], int(f))) for f in sys.argv[4:]]")
  result = subprocess.run([sys.executable, "-c", code, str(tmp_path), data_dir, model,
                           *map(str, fsdps)],
                          cwd=ROOT, env=cpu_env(8), capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return [dict(np.load(tmp_path / f"eight_{fsdp}.npz")) for fsdp in fsdps]


def test_one_device_and_eight_devices_agree(tmp_path, data_dir):
  """Also with parameters and optimiser state split 4 ways (mesh 2 data x 4 fsdp)."""
  one = five_steps(data_dir)
  assert one.pop("devices") == 1
  assert one.pop("sharded_leaves") == one.pop("all_gathers") == one.pop("all_reduces") == 0
  assert one.pop("reduce_scatters") == 0
  one_temp = one.pop("temp_bytes")
  for fsdp, eight in zip((1, 4), _on_eight_devices(tmp_path, data_dir, "mocogan", (1, 4))):
    devices, sharded, gathers, reduces, scatters, temp = (eight.pop(k) for k in (
        "devices", "sharded_leaves", "all_gathers", "all_reduces", "reduce_scatters",
        "temp_bytes"))
    assert devices == 8
    # Each device works on its share of the batch, fakes included (they were once
    # generated whole on every device): activations shrink with the device count.
    assert temp < one_temp / 3, (temp, one_temp)
    # Data parallel means gradient and BatchNorm all-reduces and nothing else: an
    # all-gather there would be a layer XLA could not split over the batch.
    if fsdp == 1:
      assert sharded == 0 and gathers == 0 == scatters and reduces > 0, (sharded, gathers)
    else:
      assert sharded > 10 and gathers > 0, (sharded, gathers)
    assert one.keys() == eight.keys() and len(one) > 50
    for name in one:
      np.testing.assert_allclose(eight[name], one[name], rtol=1e-5, atol=1e-6,
                                 err_msg=f"fsdp={fsdp} {name}")


@pytest.mark.parametrize("model", ["vgan", "tgan"])
def test_each_model_agrees_on_one_and_eight_devices(tmp_path, data_dir, model):
  """The registry's compiled step, the same harness: VGAN and TGAN (its
  clipping step, 5, included) on 8 devices give the 1-device numbers.

  Their published convolutions have biases, also where BatchNorm follows:
  there the true gradient is 0, and Adam and RMSprop (g / sqrt(v)) turn its
  rounding noise, which differs with the reduction order, into steps. Those
  biases, and the BatchNorm running means that absorb them, only agree to
  that noise (measured: up to 9e-3 in 5 steps); everything else to 1e-5."""
  one = five_steps(data_dir, model)
  (eight,) = _on_eight_devices(tmp_path, data_dir, model)
  assert eight["all_reduces"] > 0 and eight["sharded_leaves"] == 0
  assert one["devices"] == 1 and eight["devices"] == 8
  for name in ("devices", "sharded_leaves", "all_gathers", "all_reduces", "reduce_scatters",
               "temp_bytes"):
    one.pop(name), eight.pop(name)
  assert one.keys() == eight.keys() and len(one) > 20
  for name in one:
    noisy = "['bias']" in name or "['mean']" in name
    np.testing.assert_allclose(eight[name], one[name], rtol=1e-5, atol=3e-2 if noisy else 1e-5,
                               err_msg=name)


# The command line, with FSDP_MIN_SIZE lowered so that the tiny model's kernels
# are split over the fsdp axis too.
FSDP_SPLIT = ("import sys; from mocogan_jax import sharding; sharding.FSDP_MIN_SIZE = 256; "
              "from mocogan_jax.cli import main; main(sys.argv[1:])")


def _train_args(workdir, data_dir, extra=(), steps=5):
  return ["train", "--config", "tiny", "--workdir", workdir, *extra, "image_batch=8",
          "video_batch=8", f"num_steps={steps}", "log_every=1", f"sample_every={steps}",
          f"checkpoint_every={steps}", f"data_dir={data_dir}"]


def _train(workdir, data_dir, devices, processes=1, log=None, extra=(), steps=5):
  """`mocogan-jax train` on the tiny config; several processes through the
  local launcher (tpu_setup/launch_local.sh), output to `log`."""
  env = cpu_env(devices)
  args = [sys.executable, "-c", FSDP_SPLIT, *_train_args(workdir, data_dir, extra, steps)]
  if processes > 1:
    args = ["bash", os.path.join(ROOT, "tpu_setup", "launch_local.sh"), str(processes), *args]
  out = open(log or os.devnull, "w")
  return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
                          cwd=ROOT)


def _finish(process, log, timeout=300):
  try:
    code = process.wait(timeout=timeout)
  finally:  # never leave processes waiting for a peer
    if process.poll() is None:
      process.kill()
  return code, open(log).read()[-3000:]


def test_a_run_moves_across_devices_layouts_and_processes(tmp_path, data_dir, gcs_bucket):
  """One run continued on another layout at every checkpoint, each resume a
  different mesh or process count, its checkpoints in a bucket every process
  reaches (--checkpoint_dir gs://..., a GCS-protocol server), ends where an
  uninterrupted 1-device run does (1e-5):
  1 device -> 2 processes x 4 (data 4 x fsdp 2) -> 1 x 8 -> 1."""
  from etils import epath
  log = str(tmp_path / "log")
  # One device runs in this process (the worker's one CPU device); the others
  # are subprocesses with the device counts they need.
  cli(*_train_args(str(tmp_path / "reference"), data_dir, steps=10))
  workdir, checkpoints = str(tmp_path / "moving"), f"{gcs_bucket}/{tmp_path.name}/checkpoints"
  cli(*_train_args(workdir, data_dir, ["--checkpoint_dir", checkpoints], steps=2))
  stages = [(4, 2, 4, ("mesh_fsdp=2",)), (8, 1, 6, ())]
  for devices, processes, end, extra in stages:
    code, out = _finish(_train(workdir, data_dir, devices, processes, log, steps=end,
                               extra=["--checkpoint_dir", checkpoints, *extra]), log)
    assert code == 0, out
    assert f"resuming from step {end - 2}" in out, out
  _, out, _ = cli(*_train_args(workdir, data_dir, ["--checkpoint_dir", checkpoints], steps=10))
  assert "resuming from step 6" in out, out
  reference, moved = logged_metrics(str(tmp_path / "reference")), logged_metrics(workdir)
  assert [m["step"] for m in moved] == list(range(1, 11))
  for a, b in zip(reference, moved, strict=True):
    for k in a:
      np.testing.assert_allclose(b[k], a[k], rtol=1e-5, err_msg=f"step {a['step']} {k}")
  assert sorted((p.name for p in epath.Path(checkpoints).iterdir()), key=int) == ["4", "6", "10"]
  assert not os.path.exists(os.path.join(workdir, "checkpoints"))


def _wait_for_steps(workdir, process, log, count):
  path = os.path.join(workdir, "metrics.jsonl")
  deadline = time.monotonic() + 300
  while not (os.path.exists(path) and len(open(path).readlines()) >= count):
    assert process.poll() is None and time.monotonic() < deadline, open(log).read()[-3000:]
    time.sleep(0.5)


def _pids(log):
  return [int(line.split()[-1]) for line in open(log) if line.startswith("process ")]


def test_processes_stop_together_on_a_signal_to_one_and_when_one_dies(tmp_path, data_dir):
  # One device per process: what is tested is the signals. With 4 each, the 8
  # devices' collectives between the processes cost about a second a step.
  workdir, log = str(tmp_path / "multi"), str(tmp_path / "log")
  extra = ["--heartbeat_timeout", "10"]

  # A preemption notice reaching one process: both save the same step and exit 0.
  launcher = _train(workdir, data_dir, 1, processes=2, log=log, extra=extra, steps=100_000)
  _wait_for_steps(workdir, launcher, log, 2)
  os.kill(_pids(log)[1], signal.SIGTERM)
  code, out = _finish(launcher, log, timeout=120)
  assert code == 0, out
  (saved,) = os.listdir(os.path.join(workdir, "checkpoints"))
  assert out.count(f"saved step {saved} to {workdir}") == 2, out

  # One process killed: the other stops by itself within the heartbeat timeout.
  launcher = _train(workdir, data_dir, 1, processes=2, log=log, extra=extra, steps=100_000)
  _wait_for_steps(workdir, launcher, log, int(saved) + 2)
  os.kill(_pids(log)[1], signal.SIGKILL)
  start = time.monotonic()
  code, out = _finish(launcher, log, timeout=120)
  assert code != 0 and time.monotonic() - start < 60, out


DEVICE_SETTINGS_THAT_CANNOT_WORK = [
    (["--coordinator", "127.0.0.1:1"], "needs all of --coordinator"),
    (["mesh_data=16"], "mesh_data=16 x mesh_fsdp=1 needs 16 devices, this run has 8"),
    (["mesh_fsdp=3"], "mesh_fsdp=3 does not divide the 8 devices"),
    (["image_batch=12"], "image_batch=12 does not divide over the 8 devices"),
]


def test_device_settings_that_cannot_work_are_one_clear_line(tmp_path):
  """Each an exit 2 with one line, from the command line (conftest.cli) in one
  process that sees 8 devices: (status, stderr) of each as a JSON list."""
  code = ("import json, sys; sys.path.insert(0, 'tests'); from conftest import cli; "
          "print(json.dumps([cli('train', '--config', 'tiny', '--workdir', sys.argv[2], *args, "
          "check=False)[::2] for args in json.loads(sys.argv[1])]))")
  cases = json.dumps([args for args, _ in DEVICE_SETTINGS_THAT_CANNOT_WORK])
  result = subprocess.run([sys.executable, "-c", code, cases, str(tmp_path)], capture_output=True,
                          text=True, timeout=120, env=cpu_env(8), cwd=ROOT)
  assert result.returncode == 0, result.stderr[-2000:]
  outcomes = json.loads(result.stdout.strip().splitlines()[-1])
  for (args, message), (status, err) in zip(DEVICE_SETTINGS_THAT_CANNOT_WORK, outcomes, strict=True):
    assert status == 2 and message in err, (args, err[-2000:])
    assert len(err.strip().splitlines()) == 1, (args, err)

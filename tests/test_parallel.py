"""The same step on 1 and on 8 devices gives the same numbers.

Each run is a subprocess, because the device count is fixed when JAX starts
(XLA_FLAGS=--xla_force_host_platform_device_count=N). Same config, seed,
global batches and keys: BatchNorm statistics are over the global batch and
random numbers do not depend on how arrays are sharded, so 5 steps must agree.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np

RUN = textwrap.dedent("""
    import sys, jax, numpy as np
    sys.path.insert(0, "tests")
    from conftest import tiny_config_with
    from mocogan_jax import parallel
    from mocogan_jax.data import pipeline
    config = tiny_config_with(sys.argv[1], image_batch=8, video_batch=8, mesh_fsdp=int(sys.argv[4]))
    parallel.FSDP_MIN_SIZE = 256  # the tiny model's kernels are small; split them anyway
    mesh = parallel.make_mesh(config)
    assert mesh.size == int(sys.argv[3]), mesh
    source = pipeline.load_source(config)
    abstract = parallel.abstract_train_state(config, mesh)
    state = parallel.jit_create_train_state(config, abstract)(jax.random.key(0))
    step = parallel.jit_train_step(abstract, mesh)
    sharding = parallel.batch_sharding(mesh)
    for i in range(5):
      batch = jax.device_put(pipeline.make_batch(source, config, i), sharding)
      state, metrics = step(state, batch, jax.random.key(i))
    flat = {jax.tree_util.keystr(p): np.asarray(x)
            for p, x in jax.tree_util.tree_leaves_with_path((state, metrics))}
    sharded = [x for x in jax.tree.leaves(state) if not x.sharding.is_fully_replicated]
    np.savez(sys.argv[2], **flat, sharded_leaves=len(sharded))
""")


def _run(devices: int, data_dir: str, out: str, fsdp: int = 1) -> dict:
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
             JAX_PLATFORMS="cpu")
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run([sys.executable, "-c", RUN, data_dir, out, str(devices), str(fsdp)], cwd=root,
                          env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return dict(np.load(out))


def test_one_device_and_eight_devices_agree(tmp_path, data_dir):
  """Also with parameters and optimiser state split 4 ways (mesh 2 data x 4 fsdp)."""
  one = _run(1, data_dir, str(tmp_path / "one.npz"))
  assert one.pop("sharded_leaves") == 0
  for fsdp in (1, 4):
    eight = _run(8, data_dir, str(tmp_path / f"eight_{fsdp}.npz"), fsdp)
    sharded = eight.pop("sharded_leaves")
    assert sharded == 0 if fsdp == 1 else sharded > 10, sharded
    assert one.keys() == eight.keys() and len(one) > 50
    for name in one:
      np.testing.assert_allclose(eight[name], one[name], rtol=1e-5, atol=1e-6,
                                 err_msg=f"fsdp={fsdp} {name}")


def _free_port() -> int:
  import socket
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _train(workdir, data_dir, devices, extra=(), env_extra=None):
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
             JAX_PLATFORMS="cpu", **(env_extra or {}))
  args = [sys.executable, "-m", "mocogan_jax.cli", "train", "--config", "tiny", "--workdir",
          workdir, *extra, "image_batch=8", "video_batch=8", "num_steps=5", "log_every=1",
          "sample_every=5", "checkpoint_every=5", f"data_dir={data_dir}"]
  return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)


def _metrics(workdir):
  import json
  lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  for line in lines:
    line.pop("steps_per_second")
  return lines


def test_two_processes_of_four_devices_match_one_process_of_eight(tmp_path, data_dir):
  single = _train(str(tmp_path / "single"), data_dir, 8)
  assert single.wait(timeout=300) == 0, single.stdout.read()[-3000:]

  port = _free_port()
  workdir = str(tmp_path / "multi")
  processes = [_train(workdir, data_dir, 4, ["--coordinator", f"127.0.0.1:{port}",
                                             "--num_processes", "2", "--process_id", str(i)])
               for i in range(2)]
  try:
    codes = [p.wait(timeout=300) for p in processes]
  finally:  # never leave a process waiting for a peer that died
    for p in processes:
      if p.poll() is None:
        p.kill()
  assert codes == [0, 0], [p.stdout.read()[-3000:] for p in processes]
  one, two = _metrics(str(tmp_path / "single")), _metrics(workdir)
  assert [m["step"] for m in two] == [1, 2, 3, 4, 5]
  for a, b in zip(one, two):
    for k in a:
      np.testing.assert_allclose(b[k], a[k], rtol=1e-5, err_msg=k)
  assert os.listdir(os.path.join(workdir, "checkpoints")) == ["5"]


def test_an_incomplete_multi_process_setting_is_one_clear_line(tmp_path):
  result = subprocess.run(
      [sys.executable, "-m", "mocogan_jax.cli", "train", "--config", "tiny", "--workdir",
       str(tmp_path), "--coordinator", "127.0.0.1:1"], capture_output=True, text=True, timeout=120)
  assert result.returncode == 2 and "needs all of --coordinator" in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1

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
    config = tiny_config_with(sys.argv[1], image_batch=8, video_batch=8)
    mesh = parallel.make_mesh()
    assert mesh.shape["data"] == int(sys.argv[3]), mesh
    source = pipeline.load_source(config)
    state = parallel.jit_create_train_state(mesh)(config, jax.random.key(0))
    step = parallel.jit_train_step(mesh)
    sharding = parallel.batch_sharding(mesh)
    for i in range(5):
      batch = jax.device_put(pipeline.make_batch(source, config, i), sharding)
      state, metrics = step(state, batch, jax.random.key(i))
    flat = {jax.tree_util.keystr(p): np.asarray(x)
            for p, x in jax.tree_util.tree_leaves_with_path((state, metrics))}
    np.savez(sys.argv[2], **flat)
""")


def _run(devices: int, data_dir: str, out: str) -> dict:
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
             JAX_PLATFORMS="cpu")
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run([sys.executable, "-c", RUN, data_dir, out, str(devices)], cwd=root,
                          env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return dict(np.load(out))


def test_one_device_and_eight_devices_agree(tmp_path, data_dir):
  one = _run(1, data_dir, str(tmp_path / "one.npz"))
  eight = _run(8, data_dir, str(tmp_path / "eight.npz"))
  assert one.keys() == eight.keys() and len(one) > 50
  for name in one:
    np.testing.assert_allclose(eight[name], one[name], rtol=1e-5, atol=1e-6, err_msg=name)

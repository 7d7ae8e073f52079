"""What must hold on an accelerator, checked on whatever JAX's default device is.

`experiments/accelerator_check.sh` runs every test marked `accelerator` on the
GPU (`pytest -m accelerator`): these, and in tests/test_training.py the
determinism and bfloat16 tests. In the suite they run on the CPU, where the
default device and the CPU are the same, so they cannot rot between GPU runs.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mocogan_jax import checkpointing
from mocogan_jax.models import mocogan
from mocogan_jax.data import pipeline
from mocogan_jax.models import layers

from conftest import create_train_state

pytestmark = pytest.mark.accelerator


@pytest.mark.parametrize("case", [
    ("conv2d s2", lambda x, w, i: layers.conv2d(x, w, 2, 1, i), (4, 32, 32, 3), (4, 4, 3, 32)),
    ("convT s2", lambda x, w, i: layers.conv_transpose2d(x, w, 2, 1, i), (4, 8, 8, 64),
     (4, 4, 64, 32)),
    ("conv3d", lambda x, w, i: layers.conv3d(x, w, (1, 2, 2), (0, 1, 1), i), (2, 8, 16, 16, 3),
     (4, 4, 4, 3, 16)),
], ids=lambda c: c[0])
def test_native_convolutions_on_the_device_match_the_cpu_form_on_the_cpu(case):
  # The native path is what GPUs and TPUs run; the CPU form is what the CPU
  # tests check against PyTorch's definitions. "highest" keeps the GPU's
  # float32 convolutions out of TF32, whose 10-bit mantissa would need a
  # tolerance too loose to catch a wrong kernel flip or padding.
  _, fn, x_shape, w_shape = case
  x = jax.random.normal(jax.random.key(1), x_shape)
  # Outputs of order 1, so that one absolute tolerance fits every layer.
  w = jax.random.normal(jax.random.key(2), w_shape) / np.sqrt(np.prod(w_shape[:-1]))

  def value_and_grads(x, w, impl):
    return fn(x, w, impl), *jax.grad(lambda x, w: jnp.sum(jnp.sin(fn(x, w, impl))),
                                     argnums=(0, 1))(x, w)

  with jax.default_matmul_precision("highest"):
    device = jax.jit(value_and_grads, static_argnums=2)(x, w, "native")
  cpu = jax.devices("cpu")[0]
  reference = jax.jit(value_and_grads, static_argnums=2)(
      jax.device_put(x, cpu), jax.device_put(w, cpu), "matmul")
  for a, b in zip(device, reference):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-4)


def test_a_checkpoint_written_on_the_device_restores_on_the_cpu(tmp_path, tiny_config):
  state = create_train_state(tiny_config, jax.random.key(0))
  batch = pipeline.make_batch(pipeline.load_source(tiny_config), tiny_config, step=0)
  state, _ = jax.jit(mocogan.train_step)(state, batch, jax.random.key(1))
  manager = checkpointing.manager(str(tmp_path / "checkpoints"))
  checkpointing.save(manager, state, tiny_config)
  manager.wait_until_finished()

  on_cpu = jax.sharding.SingleDeviceSharding(jax.devices("cpu")[0])
  target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=on_cpu), state)
  restored, _ = checkpointing.restore(checkpointing.manager(str(tmp_path / "checkpoints")), 1,
                                      target)
  assert {leaf.sharding for leaf in jax.tree.leaves(restored)} == {on_cpu}
  for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(state)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

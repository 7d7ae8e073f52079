"""Device meshes and shardings. One code path for 1 CPU, many GPUs or a TPU slice.

The step is jitted over a global view: the batch is split over the `data` axis,
parameters and optimiser state are replicated. XLA inserts the gradient
all-reduce, and BatchNorm statistics are computed over the global batch.
"""

import jax
from jax.sharding import AxisType, NamedSharding, PartitionSpec as P

from mocogan_jax.config import Config, ConfigError
from mocogan_jax.training import create_train_state, train_step


def make_mesh() -> jax.sharding.Mesh:
  """A 1-D mesh over every device of every process, axis `data`."""
  return jax.make_mesh((jax.device_count(),), ("data",), axis_types=(AxisType.Auto,))


def batch_sharding(mesh) -> NamedSharding:
  return NamedSharding(mesh, P("data"))


def replicated(mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def check_batch_fits(config: Config, mesh) -> None:
  size = mesh.shape["data"]
  for field in ("image_batch", "video_batch"):
    if getattr(config, field) % size:
      raise ConfigError(f"{field}={getattr(config, field)} does not divide over {size} devices")


def jit_create_train_state(mesh):
  """create_train_state(config, key) compiled to place the state on `mesh`."""
  return jax.jit(create_train_state, static_argnums=0, out_shardings=replicated(mesh))


def jit_train_step(mesh):
  """train_step(state, batch, key) compiled for `mesh`: batch split over `data`,
  state replicated and donated."""
  rep, data = replicated(mesh), batch_sharding(mesh)
  return jax.jit(train_step, in_shardings=(rep, data, rep), out_shardings=(rep, rep),
                 donate_argnums=0)

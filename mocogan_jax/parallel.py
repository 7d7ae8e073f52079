"""Device meshes and shardings. One code path for 1 CPU, many GPUs or a TPU slice.

The step is jitted over a global view: the batch is split over the `data` axis,
parameters and optimiser state are replicated. XLA inserts the gradient
all-reduce, and BatchNorm statistics are computed over the global batch.
"""

import os

import jax
from jax.sharding import AxisType, NamedSharding, PartitionSpec as P

from mocogan_jax.config import Config, ConfigError
from mocogan_jax.training import create_train_state, train_step


def _int_from_env(name: str) -> int | None:
  value = os.environ.get(name)
  if not value:
    return None
  try:
    return int(value)
  except ValueError:
    raise ConfigError(f"{name} must be an integer, got {value!r}") from None


def initialize_distributed(coordinator: str | None = None, num_processes: int | None = None,
                           process_id: int | None = None, auto: bool = False) -> None:
  """Joins this process to a multi-process run; call before any other JAX call.

  auto: TPU pods and SLURM, where jax.distributed.initialize() finds everything.
  Otherwise coordinator ("host:port"), num_processes and process_id, from the
  arguments or from MOCOGAN_COORDINATOR / MOCOGAN_NUM_PROCESSES /
  MOCOGAN_PROCESS_ID. With none of them, a single process: nothing to do.
  """
  if auto:
    jax.distributed.initialize()
    return
  coordinator = coordinator or os.environ.get("MOCOGAN_COORDINATOR")
  if num_processes is None:
    num_processes = _int_from_env("MOCOGAN_NUM_PROCESSES")
  if process_id is None:
    process_id = _int_from_env("MOCOGAN_PROCESS_ID")
  given = [x is not None for x in (coordinator, num_processes, process_id)]
  if not any(given):
    return
  if not all(given):
    raise ConfigError("a multi-process run needs all of --coordinator, --num_processes and "
                      "--process_id (or MOCOGAN_COORDINATOR, MOCOGAN_NUM_PROCESSES, "
                      "MOCOGAN_PROCESS_ID)")
  if not 0 <= process_id < num_processes:
    raise ConfigError(f"--process_id must be in [0, {num_processes}), got {process_id}")
  jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                             process_id=process_id, initialization_timeout=120)


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

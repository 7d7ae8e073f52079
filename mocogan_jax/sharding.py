"""Device meshes and shardings: one code path for 1 CPU, many GPUs or a TPU slice.

A leaf module (jax, numpy and the config only): data, models and steps take
their mesh rules from here, never from each other.

The step is jitted over a global view. The mesh has two axes, `data` and
`fsdp`: the batch is split over both (every device gets its rows), parameters
and optimiser state are split over `fsdp` and replicated over `data`. XLA
inserts the gathers and the gradient reductions. Because the program sees the
global batch, BatchNorm statistics are over the global batch (synchronised BN
needs no code), and random numbers do not depend on the device count
(jax_threefry_partitionable, the default).
"""

import math
import os

import jax
import numpy as np
from jax.experimental import mesh_utils
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

from mocogan_jax.config import Config

from mocogan_jax.errors import ConfigError

MESH_AXES = ("data", "fsdp")
BATCH_AXES = MESH_AXES  # the batch is split over every axis


def _int_from_env(name: str) -> int | None:
  value = os.environ.get(name)
  if not value:
    return None
  try:
    return int(value)
  except ValueError:
    raise ConfigError(f"{name} must be an integer, got {value!r}") from None


def initialize_distributed(coordinator: str | None = None, num_processes: int | None = None,
                           process_id: int | None = None, auto: bool = False,
                           heartbeat_timeout: int = 100) -> None:
  """Joins this process to a multi-process run; call before any other JAX call.

  auto: TPU pods and SLURM, where jax.distributed.initialize() finds everything.
  Otherwise coordinator ("host:port"), num_processes and process_id, from the
  arguments or from MOCOGAN_COORDINATOR / MOCOGAN_NUM_PROCESSES /
  MOCOGAN_PROCESS_ID. With none of them, a single process: nothing to do.

  heartbeat_timeout: seconds after which the survivors of a process that died
  or hung are terminated by JAX, so a failed run never waits forever.
  """
  if auto:
    jax.distributed.initialize(heartbeat_timeout_seconds=heartbeat_timeout)
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
                             process_id=process_id, initialization_timeout=120,
                             heartbeat_timeout_seconds=heartbeat_timeout)


# Arrays smaller than this stay replicated under fsdp: gathering them would cost
# more than the memory it saves (biases, BatchNorm vectors, Adam counters).
FSDP_MIN_SIZE = 2**14


def make_mesh(config: Config, devices=None) -> Mesh:
  """A (data, fsdp) mesh over `devices` (default: every device of every process).

  The batch is split over all devices; parameters and optimiser state are
  split over `fsdp` and replicated over `data`. mesh_data=-1 takes every
  device the fsdp axis leaves. Devices of several TPU slices (multislice,
  each device's `slice_index`) are joined by the data-centre network, far
  slower than the chips' own links: only `data` spans slices, so the fsdp
  gathers stay inside a slice and one gradient all-reduce per step crosses.
  """
  devices = jax.devices() if devices is None else list(devices)
  fsdp, data = config.mesh_fsdp, config.mesh_data
  if data == -1:
    if len(devices) % fsdp:
      raise ConfigError(f"mesh_fsdp={fsdp} does not divide the {len(devices)} devices of this run")
    data = len(devices) // fsdp
  if data * fsdp != len(devices):
    raise ConfigError(f"mesh_data={data} x mesh_fsdp={fsdp} needs {data * fsdp} devices, "
                      f"this run has {len(devices)}; set mesh_data=-1 to use them all")
  axis_types = (AxisType.Auto,) * 2
  slices = len({getattr(d, "slice_index", 0) for d in devices})
  if slices == 1:
    return jax.make_mesh((data, fsdp), MESH_AXES, axis_types=axis_types, devices=devices)
  if data % slices:
    raise ConfigError(f"mesh_data={data} must be a multiple of the {slices} slices: only the "
                      f"data axis spans slices")
  grid = mesh_utils.create_hybrid_device_mesh((data // slices, fsdp), (slices, 1), devices,
                                              allow_split_physical_axes=True)
  return Mesh(grid, MESH_AXES, axis_types=axis_types)


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over every device."""
  return NamedSharding(mesh, P(MESH_AXES))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def check_batch_fits(config: Config, mesh: Mesh) -> None:
  for field in ("image_batch", "video_batch"):
    if getattr(config, field) % mesh.size:
      raise ConfigError(f"{field}={getattr(config, field)} does not divide over the "
                        f"{mesh.size} devices of the mesh")


def fsdp_spec(shape: tuple[int, ...], fsdp: int) -> P:
  """Splits the largest axis that `fsdp` divides (the later one on ties, the
  output channels of a kernel); small or indivisible arrays stay replicated."""
  if fsdp == 1 or math.prod(shape) < FSDP_MIN_SIZE:
    return P()
  axes = [i for i in range(len(shape)) if shape[i] % fsdp == 0]
  if not axes:
    return P()
  split = max(axes, key=lambda i: (shape[i], i))
  return P(*("fsdp" if i == split else None for i in range(len(shape))))


def shardings_of(abstract_tree):
  """The `.sharding` of every leaf of a tree of ShapeDtypeStructs."""
  return jax.tree.map(lambda x: x.sharding, abstract_tree)


def fsdp_layout(shapes, mesh: Mesh):
  """A tree of ShapeDtypeStructs -> the same carrying their `fsdp_spec`
  shardings on `mesh`: the target layout to initialise, step and restore."""
  fsdp = mesh.shape["fsdp"]
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype,
                                     sharding=NamedSharding(mesh, fsdp_spec(x.shape, fsdp))),
      shapes)


def process_rows(sharding: NamedSharding, global_batch: int) -> slice:
  """The rows of a `global_batch`-row array that this process's devices hold
  under `sharding`: the part of the batch this process loads."""
  rows = sorted({r for index in sharding.addressable_devices_indices_map((global_batch,)).values()
                 for r in range(global_batch)[index[0]]})
  start, stop = rows[0], rows[-1] + 1
  if len(rows) != stop - start:
    raise RuntimeError(f"process {jax.process_index()} holds non-contiguous batch rows")
  return slice(start, stop)


def chunk_size(rows: int, mesh: Mesh) -> int:
  """`rows` rounded up to a multiple of the mesh's devices."""
  return -(-rows // mesh.size) * mesh.size


class Batched:
  """A function of a batch of N rows applied chunk by chunk over all devices:
  each chunk is padded to the chunk size, split over the mesh's batch axes, and
  trimmed again. fn(variables, rows) -> per-row outputs."""

  def __init__(self, fn, variables, mesh, chunk: int):
    self.chunk = chunk_size(chunk, mesh)
    self.rows = batch_sharding(mesh)
    self.variables = jax.device_put(variables, replicated(mesh))
    self.fn = jax.jit(fn, in_shardings=(replicated(mesh), self.rows))

  def __call__(self, rows: np.ndarray) -> np.ndarray:
    out = []
    for first in range(0, len(rows), self.chunk):
      part = rows[first:first + self.chunk]
      pad = self.chunk - len(part)
      if pad:
        part = np.concatenate([part, np.repeat(part[-1:], pad, axis=0)])
      result = self.fn(self.variables, jax.device_put(part, self.rows))
      out.append(np.asarray(jax.device_get(result))[:len(part) - pad])
    return np.concatenate(out)


def _constrain(tree, spec):
  return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, spec), tree)


def split_over_batch(tree):
  """Lays the leading axis of every array out over the mesh's batch axes.

  Random latents are born replicated; without this every device would generate
  and discriminate all the fakes. A no-op outside a mesh context (plain jit)
  or when the mesh has none of BATCH_AXES.
  """
  axes = tuple(a for a in BATCH_AXES if a in jax.sharding.get_abstract_mesh().axis_names)
  if not axes:  # no mesh, or a caller's mesh with other axis names: leave it to XLA
    return tree
  return _constrain(tree, jax.sharding.PartitionSpec(axes))


def gather_for_use(params):
  """Whole parameters for a forward pass when they are stored split over `fsdp`.

  Left to itself XLA may split a convolution over the split weight's channels
  instead of over the batch, and then gather activations, which are far larger
  than weights. Gathering the weights keeps every activation split over the
  batch; the gradient comes back split as the parameters are stored.
  """
  mesh = jax.sharding.get_abstract_mesh()
  if "fsdp" not in mesh.axis_names or mesh.shape["fsdp"] == 1:
    return params
  return _constrain(params, jax.sharding.PartitionSpec())

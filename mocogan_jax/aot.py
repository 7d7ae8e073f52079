"""The train step compiled for a TPU topology or GPUs this machine does not have.

libtpu compiles for a named topology (`v5e:16x16`, `v4:4x4x8`, two slices of
either) from any host, with no TPU present, and the CUDA plugin for hosts of
NVIDIA GPUs (`h100:8`, `h100:2x8`) from a description of the card:
jax.experimental.topologies gives abstract devices, the step is lowered on
abstract arguments laid out on a mesh of them, and the compiled program says how much memory each chip needs,
how many FLOPs and bytes it moves, and which collectives it runs. Nothing is
allocated and nothing runs. `mocogan-jax compile` prints it (cli/runs.py);
docs/scaling.md, "Before booking a pod", reads the numbers.
"""

import contextlib
import dataclasses
import importlib.util
import math
import os
import re
import sys
import tempfile

import jax

from mocogan_jax import gan, registry, sharding
from mocogan_jax.config import Config
from mocogan_jax.errors import ConfigError
from mocogan_jax.models import layers


@dataclasses.dataclass(frozen=True)
class Chip:
  hbm_bytes: float
  peak_flops: float  # dense bf16 FLOP/s: XLA runs float32 matmuls as one bf16 pass on a TPU
  hbm_bytes_per_s: float


# Published per-chip figures from the Cloud TPU system architecture pages
# (cloud.google.com/tpu/docs/v4, .../v5e, .../v5p, .../v6e, read 2026-12-05).
# Their "GB" of HBM are binary: libtpu's compiler gives a v5e 15.75 GiB of its
# 16 for a program (the rest is the runtime's).
CHIPS = {
    "v4": Chip(32 * 2**30, 275e12, 1200e9),
    "v5e": Chip(16 * 2**30, 197e12, 819e9),
    "v5p": Chip(95 * 2**30, 459e12, 2765e9),
    "v6e": Chip(32 * 2**30, 918e12, 1640e9),
}
GIB = 2**30


@dataclasses.dataclass(frozen=True)
class Gpu(Chip):
  """A card's figures, and the ones the CUDA compiler reads in place of a
  card it cannot query (XLA's GpuDeviceInfoProto)."""
  name: str = ""
  compute_capability: tuple = (9, 0)
  cores: int = 0  # streaming multiprocessors
  fpus_per_core: int = 128
  shared_memory_per_core: int = 0
  shared_memory_per_block_optin: int = 0
  l2_cache_bytes: int = 0
  clock_ghz: float = 0.0

  def target_config(self) -> str:
    """The card as the CUDA compiler's target config (protobuf text)."""
    info = {"threads_per_block_limit": 1024, "threads_per_warp": 32,
            "shared_memory_per_block": 48 * 1024,
            "shared_memory_per_core": self.shared_memory_per_core,
            "threads_per_core_limit": 2048, "core_count": self.cores,
            "fpus_per_core": self.fpus_per_core, "block_dim_limit_x": 2**31 - 1,
            "block_dim_limit_y": 65535, "block_dim_limit_z": 65535,
            "memory_bandwidth": int(self.hbm_bytes_per_s), "l2_cache_size": self.l2_cache_bytes,
            "clock_rate_ghz": self.clock_ghz, "device_memory_size": int(self.hbm_bytes),
            "shared_memory_per_block_optin": self.shared_memory_per_block_optin,
            "registers_per_core_limit": 65536, "registers_per_block_limit": 65536}
    major, minor = self.compute_capability
    fields = " ".join(f"{k}: {v}" for k, v in info.items())
    return (f"gpu_device_info {{ {fields} cuda_compute_capability {{ major: {major} "
            f"minor: {minor} }} }} platform_name: \"CUDA\" dnn_version_info {{ major: 9 }} "
            f"runtime_version {{ major: 13 }} device_description_str: \"{self.name}\"")


# The SXM cards' datasheet figures (NVIDIA H100, H200 and A100 datasheets and
# the CUDA programming guide's table of compute capabilities, read
# 2026-12-05): memory in GB of 10^9 bytes, dense bf16 tensor-core FLOP/s
# (without sparsity). A real card reports a little less memory than printed.
GPUS = {
    "h100": Gpu(80e9, 989e12, 3.35e12, name="NVIDIA H100 80GB HBM3", compute_capability=(9, 0),
                cores=132, shared_memory_per_core=228 * 1024,
                shared_memory_per_block_optin=227 * 1024, l2_cache_bytes=50 * 2**20,
                clock_ghz=1.98),
    "h200": Gpu(141e9, 989e12, 4.8e12, name="NVIDIA H200", compute_capability=(9, 0),
                cores=132, shared_memory_per_core=228 * 1024,
                shared_memory_per_block_optin=227 * 1024, l2_cache_bytes=50 * 2**20,
                clock_ghz=1.98),
    "a100": Gpu(80e9, 312e12, 2.039e12, name="NVIDIA A100-SXM4-80GB", compute_capability=(8, 0),
                cores=108, fpus_per_core=64, shared_memory_per_core=164 * 1024,
                shared_memory_per_block_optin=163 * 1024, l2_cache_bytes=40 * 2**20,
                clock_ghz=1.41),
}
_TOPOLOGY_HELP = ("--topology must be a TPU CHIP:SHAPE (CHIP one of "
                  f"{', '.join(CHIPS)}: v5e:16x16, v4:4x4x8) or GPU:[HOSTSx]GPUS_PER_HOST "
                  f"(GPU one of {', '.join(GPUS)}, 1 to 8 per host: h100:8, h100:2x8)")


def chip_of(topology: str) -> Chip:
  """'v5e:16x16' -> the v5e's figures, 'h100:2x8' -> the H100's; ConfigError
  for a name of no known chip."""
  name, _, shape = topology.partition(":")
  if name in GPUS and re.fullmatch(r"(\d+x)?[1-8]", shape):
    return GPUS[name]
  if name not in CHIPS or not re.fullmatch(r"\d+(x\d+)+", shape):
    raise ConfigError(f"{_TOPOLOGY_HELP}, got {topology!r}")
  return CHIPS[name]


def prepare_for(topology: str):
  """What must happen before JAX starts a backend: the CUDA plugin, asked
  for GPUs on a host with none, would refuse to start (it checks the driver
  and cuPTI); it starts without those checks and sees no card."""
  if topology.partition(":")[0] in GPUS:
    os.environ["JAX_SKIP_CUDA_CONSTRAINTS_CHECK"] = "1"
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")


@contextlib.contextmanager
def _stderr_kept_back():
  """Holds back what native code writes to stderr (libtpu's start-up warnings
  about the TPU it does not find) and yields a function that returns it."""
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as held:
    os.dup2(held.fileno(), 2)
    try:
      yield lambda: (held.seek(0), held.read().decode(errors="replace"))[1]
    finally:
      os.dup2(saved, 2)
      os.close(saved)


def topology_devices(topology: str, num_slices: int = 1) -> list:
  """The abstract devices of `num_slices` slices of `topology` (a device of
  several slices carries its `slice_index`)."""
  if isinstance(chip_of(topology), Gpu):
    return _gpu_devices(topology, num_slices)
  if num_slices < 1:
    raise ConfigError(f"--num_slices must be >= 1, got {num_slices}")
  if importlib.util.find_spec("libtpu") is None:
    raise ConfigError('compiling for a TPU needs libtpu: pip install -e ".[tpu]" (the '
                      "jax[tpu] that matches this jax)")
  # libtpu takes a lock file for the chips of this host; compiling uses none,
  # and two compiles (or a compile beside a run) must not wait on each other.
  os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
  from jax.experimental import topologies
  with _stderr_kept_back() as held:
    try:
      found = topologies.get_topology_desc(topology_name=topology, platform="tpu",
                                           num_slices=num_slices, **_chip_config(topology))
    except Exception as e:  # libtpu's own message names what it does not know
      reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
      raise ConfigError(f"libtpu cannot make topology {topology!r} x {num_slices} slice(s): "
                        f"{reason}") from None
  del held  # what libtpu says about the missing TPU is no news here
  return list(found.devices)


def _chip_config(topology: str) -> dict:
  """v4 and v5p chips have two TensorCores that a program uses as one device
  ("megacore"), as a run on them does; asked for no chip config, libtpu
  gives one device per core."""
  return {"chip_config_name": "megacore"} if topology.startswith(("v4:", "v5p:")) else {}


def _has_cuda_plugin() -> bool:
  try:
    return any(importlib.util.find_spec(f"jax_plugins.xla_cuda{v}") for v in (13, 12))
  except ModuleNotFoundError:  # no jax_plugins at all
    return False


def _gpu_devices(topology: str, num_slices: int) -> list:
  """The abstract GPUs of `topology` ('h100:2x8': 2 hosts of 8), made by the
  CUDA plugin from the card's target config (prepare_for first)."""
  if num_slices != 1:
    raise ConfigError("--num_slices is for TPU slices; GPUs are given as HOSTSxGPUS (h100:2x8)")
  if not _has_cuda_plugin():
    raise ConfigError('compiling for GPUs needs the CUDA plugin: pip install -e ".[cuda]" '
                      "(about 4 GB; no GPU is needed to compile)")
  name, _, shape = topology.partition(":")
  hosts, _, per_host = shape.rpartition("x")
  from jax.experimental import topologies
  with _stderr_kept_back():
    try:
      found = topologies.get_topology_desc(platform="cuda",
                                           target_config=GPUS[name].target_config(),
                                           topology=f"1x{hosts or 1}x{per_host}")
    except Exception as e:
      reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
      raise ConfigError(f"the CUDA plugin cannot make {topology!r}: {reason}") from None
  return list(found.devices)


def for_devices(config: Config, devices) -> Config:
  """`config` with the choices that follow the devices made for `devices`,
  not for the host that compiles: conv_impl=auto is native on a TPU."""
  if config.conv_impl == "auto":
    return config.replace(conv_impl=layers.impl_for(devices[0].platform))
  return config


class DoesNotFit(ConfigError):
  """The TPU compiler refused the step: it needs more memory than a chip has."""


def compile_train_step(config: Config, devices):
  """The jitted train step of `config` compiled for `devices` on the run's
  (data, fsdp) mesh -> (compiled, mesh). Only shapes and shardings are given.
  DoesNotFit when the compiler finds no schedule within a chip's memory (the
  TPU compiler recomputes activations to fit before it gives up; the GPU one
  does not check, so its program's total is compared with the card's)."""
  config = for_devices(config, devices)
  mesh = sharding.make_mesh(config, devices)
  sharding.check_batch_fits(config, mesh)
  state = registry.abstract_train_state(config, mesh)
  batch = gan.batch_shapes(config, sharding.batch_sharding(mesh))
  key = jax.ShapeDtypeStruct((), jax.random.key(0).dtype, sharding=sharding.replicated(mesh))
  lowered = registry.jit_train_step(config, state, mesh).lower(state, batch, key)
  try:
    with _no_compilation_cache():
      compiled = lowered.compile()
  except jax.errors.JaxRuntimeError as e:
    if "RESOURCE_EXHAUSTED" not in str(e):
      raise
    raise DoesNotFit(does_not_fit(str(e), _bytes_per_chip(state), mesh,
                                  devices[0].device_kind)) from None
  gpu = next((g for g in GPUS.values() if g.name == devices[0].device_kind), None)
  if gpu and memory_total(compiled) > gpu.hbm_bytes:
    raise DoesNotFit(_over(memory_total(compiled) / GIB, gpu.hbm_bytes / GIB,
                           _bytes_per_chip(state), mesh, gpu.name))
  return compiled, mesh


def cpu_cost(config: Config, videos_per_chip: int, conv_impl: str) -> dict:
  """FLOPs and bytes accessed of one chip's step, from the step compiled for
  one CPU device with one chip's batch (the CUDA compiler's cost analysis
  gives none; the CPU's fusions differ from a GPU's, so its bytes are an
  estimate of the order, its FLOPs close)."""
  one = per_chip_batch(config.replace(conv_impl=conv_impl, mesh_data=1, mesh_fsdp=1),
                       videos_per_chip, 1)
  compiled, _ = compile_train_step(one, jax.devices("cpu")[:1])
  cost = compiled.cost_analysis() or {}
  return cost[0] if isinstance(cost, list) else cost


@contextlib.contextmanager
def _no_compilation_cache():
  """The persistent compilation cache left out: it would store each TPU
  program (tens of MB) and then fail to load it back with a warning (an
  executable compiled for devices this host lacks cannot be loaded). JAX
  decides once per process whether the cache is used, so the decision is
  reset on the way in and out."""
  from jax.experimental.compilation_cache import compilation_cache
  enabled = jax.config.jax_enable_compilation_cache
  compilation_cache.reset_cache()
  jax.config.update("jax_enable_compilation_cache", False)
  try:
    yield
  finally:
    jax.config.update("jax_enable_compilation_cache", enabled)
    compilation_cache.reset_cache()


def _bytes_per_chip(abstract_tree) -> int:
  """Bytes of one chip's shards of a tree of ShapeDtypeStructs with shardings."""
  return sum(math.prod(x.sharding.shard_shape(x.shape)) * x.dtype.itemsize
             for x in jax.tree.leaves(abstract_tree))


# --- Reading the compiled program --------------------------------------------

COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")
_BYTES = {"pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "bf16": 2, "s32": 4,
          "u32": 4, "f32": 4, "s64": 8, "u64": 8, "f64": 8, "c64": 8, "c128": 16}
# One HLO instruction: "[ROOT] %name = SHAPE opcode(OPERANDS), attributes".
_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(?P<shape>.*?)\s"
                          r"(?P<opcode>[a-z][a-z0-9\-]*)\((?P<operands>.*)$")
_ARRAY = re.compile(r"\b(" + "|".join(_BYTES) + r")\[([\d,]*)\]")


def _array_bytes(text: str) -> int:
  """Bytes of every array shape written in `text` ('f32[4,8]{1,0}' -> 128)."""
  return sum(_BYTES[dtype] * math.prod(int(d) for d in dims.split(",") if d)
             for dtype, dims in _ARRAY.findall(text))


def collectives(hlo_text: str) -> dict:
  """The collective operations of an optimised HLO module, by kind:
  {kind: {"count": instructions, "bytes": their results' bytes, summed}}.

  Counted by opcode, one per instruction (an asynchronous pair at its
  -start, whose result tuple ends with the collective's own result). Bytes
  are the results' arrays: a whole array for an all-reduce, the gathered one
  for an all-gather, each chip's share for a reduce-scatter. Static counts:
  a collective in a loop body runs once per iteration and counts once.
  """
  found = {}
  for line in hlo_text.splitlines():
    match = _INSTRUCTION.match(line)
    if not match:
      continue
    opcode = match["opcode"]
    kind = opcode.removesuffix("-start")
    if kind not in COLLECTIVES:
      continue
    shape = match["shape"]
    if opcode != kind and shape.startswith("(("):  # ((operands), (results), ...)
      shape = _top_level(shape)[1]
    entry = found.setdefault(kind, {"count": 0, "bytes": 0})
    entry["count"] += 1
    entry["bytes"] += _array_bytes(shape)
  return found


def _top_level(tuple_shape: str) -> list[str]:
  """'((a, b), c, d)' -> ['(a, b)', 'c', 'd']."""
  parts, depth, start = [], 0, 1
  for i, ch in enumerate(tuple_shape):
    if ch in "([{":
      depth += 1
    elif ch in ")]}":
      depth -= 1
    if (ch == "," and depth == 1) or depth == 0:
      parts.append(tuple_shape[start:i].strip())
      start = i + 1
    if depth == 0:
      break
  return parts


def step_report(compiled, config: Config, mesh, topology: str, num_slices: int) -> dict:
  """What the compiled step needs of each chip and the bound it sets on the step time."""
  chip = chip_of(topology)
  memory = compiled.memory_analysis()
  parts = {
      "arguments": memory.argument_size_in_bytes,
      "temporaries": memory.temp_size_in_bytes,
      "outputs": memory.output_size_in_bytes,
      "aliased": memory.alias_size_in_bytes,  # outputs written over donated arguments
      "code": memory.generated_code_size_in_bytes,
  }
  cost = compiled.cost_analysis() or {}
  cost = cost[0] if isinstance(cost, list) else cost
  cost_from = mesh.devices.flat[0].platform
  if not cost.get("flops"):  # a GPU program: the same step's on one CPU device
    cost = cpu_cost(config, config.video_batch // mesh.size,
                    for_devices(config, mesh.devices.flat).conv_impl)
    cost_from = "cpu"
  flops, accessed = float(cost.get("flops", 0.0)), float(cost.get("bytes accessed", 0.0))
  compute_s, memory_s = flops / chip.peak_flops, accessed / chip.hbm_bytes_per_s
  roofline_s = max(compute_s, memory_s)
  return {
      "topology": topology, "num_slices": num_slices, "chips": mesh.size,
      "mesh": dict(mesh.shape), "conv_impl": for_devices(config, mesh.devices.flat).conv_impl,
      "dtype": config.dtype,
      "video_batch_per_chip": config.video_batch / mesh.size,
      "image_batch_per_chip": config.image_batch / mesh.size,
      "memory_bytes": {**parts, "total": memory_total(compiled)}, "hbm_bytes": chip.hbm_bytes,
      "fits": True,  # the compiler refuses a step that does not (DoesNotFit)
      "flops": flops, "cost_from": cost_from, "bytes_accessed": accessed,
      "collectives": collectives(compiled.as_text()),
      "roofline_s": roofline_s, "bound": "compute" if compute_s >= memory_s else "memory",
      "videos_per_s": config.video_batch / roofline_s if roofline_s else None,
  }


# libtpu's words for a program larger than a chip's memory.
_EXHAUSTED = re.compile(r"required for .*?\((?P<need>[\d.]+)G\) exceeds available HBM "
                        r"\((?P<have>[\d.]+)G\)")


def does_not_fit(message: str, state_bytes: int, mesh, chip: str) -> str:
  """One line from the compiler's refusal: by how much the step exceeds a
  chip's memory, and the settings that would bring it under."""
  found = _EXHAUSTED.search(message)
  if not found:  # another wording: the compiler's own first line
    return f"the step does not fit a {chip} chip: {message.strip().splitlines()[0]}"
  return _over(float(found["need"]), float(found["have"]), state_bytes, mesh, chip)


def _over(need: float, have: float, state_bytes: int, mesh, chip: str) -> str:
  """The line for a step that needs `need` GiB of a chip with `have` GiB."""
  state = state_bytes / GIB
  fsdp = mesh.shape["fsdp"]
  more = next((k for k in (2, 4, 8, 16, 32, 64, 128, 256) if mesh.size % (fsdp * k) == 0
               and need - state + state / k <= have), None)
  split = (f"mesh_fsdp={fsdp * more} splits the state {more} ways" if more else
           "splitting the state (mesh_fsdp) alone cannot make it fit")
  return (f"the step does not fit a {chip} chip: it needs {need:.2f} GiB where the compiler "
          f"has {have:.2f} GiB, {need - have:.2f} GiB over (the state is {state:.2f} GiB of "
          f"it): {split}; a smaller video_batch and image_batch (--max_batch finds the "
          f"largest) or dtype=bfloat16 shrinks the rest")


def per_chip_batch(config: Config, videos: int, chips: int) -> Config:
  """`config` with `videos` videos per chip and images in the config's ratio."""
  images = max(1, round(videos * config.image_batch / config.video_batch))
  return config.replace(video_batch=videos * chips, image_batch=images * chips)


def largest_batch(config: Config, devices, hbm_bytes: float, fits: dict,
                  log=print) -> tuple[int, int]:
  """The largest per-chip video batch whose step the compiler fits in a chip
  (images per chip in the config's ratio) -> (videos per chip, compiles).

  fits: {videos per chip: bytes} of batches already compiled, or {videos: None}
  for one the compiler refused. Until a batch is refused, each try is the
  secant through the two largest that fit towards the chip's memory (at most
  4x the largest), memory growing about linearly with the batch; then
  bisection between the largest that fits and the smallest refused, down to
  neighbours. 0 when not even one video per chip fits.
  """
  chips, known, compiles = len(devices), dict(fits), 0
  while True:
    fitting = sorted(v for v, m in known.items() if m is not None)
    low = fitting[-1] if fitting else 0
    high = min((v for v, m in known.items() if m is None), default=None)
    if high == low + 1:
      return low, compiles
    if high is not None:
      videos = (low + high) // 2
    else:
      a = fitting[-1]
      b = fitting[-2] if len(fitting) > 1 else 0
      slope = (known[a] - (known[b] if b else 0.0)) / (a - b)
      guess = a + (hbm_bytes - known[a]) / slope if slope > 0 else 4 * a
      videos = max(a + 1, min(int(guess), 4 * a))
    compiles += 1
    try:
      compiled, _ = compile_train_step(per_chip_batch(config, videos, chips), devices)
      known[videos] = memory_total(compiled)
      log(f"  {videos} videos per chip: {known[videos] / GIB:.2f} GiB, fits")
    except DoesNotFit:
      known[videos] = None
      log(f"  {videos} videos per chip: does not fit")


def memory_total(compiled) -> int:
  """Bytes a chip holds at once for `compiled`: arguments, temporaries, the
  outputs not written over donated arguments, and the program. (XLA's own
  peak_memory_in_bytes came out below the temporaries alone for TPU
  programs, jax 0.10.2.)"""
  memory = compiled.memory_analysis()
  return (memory.argument_size_in_bytes + memory.temp_size_in_bytes
          + memory.output_size_in_bytes - memory.alias_size_in_bytes
          + memory.generated_code_size_in_bytes)

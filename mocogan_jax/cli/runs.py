"""The commands that train, sample and move weights: config, train, prepare,
sample, export, import-torch, export-torch, info."""

import json
import sys

from mocogan_jax import files
from mocogan_jax.cli.flags import check_out, check_workdir_or_params, config_for_workdir
from mocogan_jax.errors import ConfigError


def add_commands(command) -> None:
  """Adds this module's commands through `command(name, function, help, *shared flags)`."""
  from mocogan_jax.models import mocogan
  p = command("config", cmd_config, "print a preset (or config file) with key=value changes "
                                    "applied, as JSON")
  p.add_argument("config", metavar="NAME")
  p.add_argument("overrides", nargs="*", metavar="key=value", help="changes to its fields")

  p = command("train", cmd_train, "train (or resume) a MoCoGAN", "run", "checkpoint_dir",
              "optional_config", "overrides")
  p.add_argument("--distributed", action="store_true",
                 help="multi-host on a TPU pod or under SLURM (detected automatically)")
  p.add_argument("--coordinator", help="host:port of process 0, for other multi-host setups")
  p.add_argument("--num_processes", type=int)
  p.add_argument("--process_id", type=int)
  p.add_argument("--heartbeat_timeout", type=int, default=100,
                 help="seconds before the other processes of a multi-process run stop when "
                      "one has died (default: 100)")

  p = command("prepare", cmd_prepare, "build the config's dataset in its data_dir (once, "
                                      "before a multi-host launch)", "overrides")
  p.add_argument("--config", required=True)

  p = command("sample", cmd_sample, "write generated videos as a GIF or mp4 grid",
              "run_or_file", "checkpoint_dir", "step", "video_out")
  p.add_argument("--num", type=int, default=16)
  p.add_argument("--length", type=int, default=None, help="frames (default: the training T)")
  p.add_argument("--category", type=int, default=None)
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--mode", choices=mocogan.MODES, default="random")

  p = command("export", cmd_export, "write the generator of a run's newest checkpoint (and its "
                                    "encoders) to one file, for sampling and sharing",
              "run", "checkpoint_dir", "step")
  p.add_argument("--out", required=True, help="output file (msgpack), e.g. generator.msgpack")

  p = command("import-torch", cmd_import_torch, "read the official PyTorch MoCoGAN's "
              "generator (and discriminators) into an exported file", "overrides")
  p.add_argument("--generator", required=True,
                 help="a state_dict or a whole pickled VideoGenerator (torch.save)")
  p.add_argument("--image_discriminator", help="its image discriminator, the same way")
  p.add_argument("--video_discriminator", help="its video discriminator, the same way")
  p.add_argument("--config", default="shapes_64",
                 help="the preset or config file the weights fit (default shapes_64, the "
                      "official defaults); key=value changes it")
  p.add_argument("--out", required=True, help="output file, e.g. official.msgpack")

  p = command("export-torch", cmd_export_torch, "write a run's (or an exported file's) "
              "networks as state_dicts the official PyTorch classes load", "run_or_file",
              "checkpoint_dir", "step")
  p.add_argument("--out", required=True, help="output folder")

  p = command("compile", cmd_compile, "compile the config's train step for a TPU topology "
              "or GPU hosts (no TPU or GPU needed): memory per chip, FLOPs, collectives, "
              "the roofline time",
              "overrides")
  p.add_argument("--config", required=True)
  p.add_argument("--topology", required=True,
                 help="TPU: CHIP:SHAPE, CHIP one of v4, v5e, v5p, v6e (e.g. v5e:16x16, "
                      "v4:4x4x8); GPU: GPU:[HOSTSx]GPUS_PER_HOST, GPU one of h100, h200, a100 "
                      "(e.g. h100:8, h100:2x8; needs the cuda extra)")
  p.add_argument("--num_slices", type=int, default=1,
                 help="slices of TOPOLOGY joined by the data-centre network (multislice)")
  p.add_argument("--max_batch", action="store_true",
                 help="also find the largest per-chip video batch that fits (images in the "
                      "config's ratio), by compiles")
  p.add_argument("--json", help="also write the report to this JSON file")

  p = command("info", cmd_info, "parameter counts, latent sizes, FLOPs per step", "overrides")
  p.add_argument("--config", required=True)
  p.add_argument("--json", action="store_true")


def cmd_config(args):
  from mocogan_jax import registry
  print(registry.resolve(args.config, args.overrides).to_json())


def cmd_train(args):
  from mocogan_jax import sharding
  from mocogan_jax.train_loop import train
  sharding.initialize_distributed(args.coordinator, args.num_processes, args.process_id,
                                  auto=args.distributed, heartbeat_timeout=args.heartbeat_timeout)
  config = config_for_workdir(args)
  path = train(config, args.workdir, args.checkpoint_dir)
  if path:  # process 0 writes the samples
    print(f"samples: {files.absolute(path)}")


def cmd_prepare(args):
  from mocogan_jax import registry
  from mocogan_jax.data import pipeline
  config = registry.resolve(args.config, args.overrides)
  source = pipeline.load_source(config)
  where = config.data_dir or "the TFDS default data dir"
  print(f"{config.dataset}: {len(source)} videos ready in {where}")


def cmd_sample(args):
  import jax
  from mocogan_jax import export, registry, video_io, workdir
  from mocogan_jax.models.mocogan import MOCOGAN_GENERATORS, sample_with_mode
  check_out(args.out)
  check_workdir_or_params(args)
  if args.params:
    config, variables, _ = export.load(args.params)
  else:
    config, variables = workdir.load_generator(args.workdir, args.checkpoint_dir, args.step)
  if args.category is not None and not 0 <= args.category < config.n_categories:
    raise ConfigError(f"--category must be in [0, {config.n_categories}), got {args.category}")
  if args.num < 1 or (args.length is not None and args.length < 1):
    raise ConfigError("--num and --length must be >= 1")
  if args.mode != "random" and config.model not in MOCOGAN_GENERATORS:
    raise ConfigError(f"--mode {args.mode} fixes MoCoGAN's content or motion code; "
                      f"model={config.model} has neither (use --mode random)")
  length = args.length or config.video_length
  key = jax.random.key(args.seed)
  if config.model in MOCOGAN_GENERATORS:
    sample = jax.jit(sample_with_mode, static_argnums=(1, 3, 4, 5))
    videos = sample(variables, config, key, args.num, length, args.mode, args.category)
  else:
    sample = jax.jit(registry.get(config).sample_videos, static_argnums=(1, 3, 4))
    videos = sample(variables, config, key, args.num, length)
  grid = video_io.video_grid(video_io.to_uint8(jax.device_get(videos)))
  path = video_io.write_video(args.out, grid, fps=args.fps, scale=max(1, 128 // config.image_size))
  print(f"wrote {args.num} videos of {length} frames ({args.mode}) to {files.absolute(path)}")


def cmd_export(args):
  from mocogan_jax import workdir
  what = workdir.export_run(args.workdir, args.checkpoint_dir, args.step, args.out)
  print(f"wrote {what} to {files.absolute(args.out)}")


def cmd_import_torch(args):
  import jax
  from mocogan_jax import export, registry, torch_interop
  if not args.out.endswith(".msgpack"):
    raise ConfigError(f"--out must end in .msgpack, got {args.out}")
  config = registry.resolve(args.config, args.overrides)
  paths = {name: getattr(args, name) for name in torch_interop.NETWORKS if getattr(args, name)}
  networks = torch_interop.import_files(paths, config)
  export.write(args.out, config, networks["generator"], discriminators={
      k: v for k, v in networks.items() if k != "generator"})
  counts = ", ".join(f"{name.replace('_', ' ')} "
                     f"({sum(x.size for x in jax.tree.leaves(v['params'])):,} parameters)"
                     for name, v in networks.items())
  print(f"wrote the {counts} to {files.absolute(args.out)}")


def cmd_export_torch(args):
  from mocogan_jax import export, registry, torch_interop, workdir
  check_workdir_or_params(args)
  if args.params:
    config, networks = export.load_networks(args.params)
  else:
    config, state = workdir.load_state(args.workdir, args.checkpoint_dir, args.step)
    torch_interop.check_mappable(config, ())
    networks = {"generator": registry.get(config).sampling_variables(state),
                "image_discriminator": state.image_discriminator.variables,
                "video_discriminator": state.video_discriminator.variables}
  written = torch_interop.write_files(args.out, config, networks)
  print("wrote " + ", ".join(files.absolute(p) for p in written))
  for note in torch_interop.unofficial_shapes(config, networks):
    print(f"note: {note}")


def cmd_compile(args):
  import time
  from mocogan_jax import aot, registry
  aot.prepare_for(args.topology)
  config = registry.resolve(args.config, args.overrides)
  devices = aot.topology_devices(args.topology, args.num_slices)
  slices = f" x {args.num_slices} slices" if args.num_slices > 1 else ""
  print(f"compiling {args.config}'s train step for {len(devices)} chips of {args.topology}"
        f"{slices} ...", file=sys.stderr)
  start, refused = time.perf_counter(), None
  report = {"config": args.config, "overrides": args.overrides}
  try:
    compiled, mesh = aot.compile_train_step(config, devices)
    report.update(aot.step_report(compiled, config, mesh, args.topology, args.num_slices),
                  compile_s=round(time.perf_counter() - start, 1))
    print(_compile_summary(report))
  except aot.DoesNotFit as e:  # reported after the search for a batch that fits
    refused = e
    report.update(topology=args.topology, num_slices=args.num_slices, chips=len(devices),
                  fits=False, refused=str(e), compile_s=round(time.perf_counter() - start, 1))
  if args.max_batch:
    print("the largest batch that fits, by compiles:", file=sys.stderr)
    videos = config.video_batch // len(devices)
    largest, compiles = aot.largest_batch(
        config, devices, aot.chip_of(args.topology).hbm_bytes,
        {videos: None if refused else report["memory_bytes"]["total"]},
        log=lambda line: print(line, file=sys.stderr))
    report["max_video_batch_per_chip"] = largest
    images = aot.per_chip_batch(config, largest, 1).image_batch if largest else 0
    print(f"{'largest batch per chip':24s} {largest} videos + {images} images "
          f"({compiles} more compiles)")
  if args.json:
    files.write_text(args.json, json.dumps(report, indent=2) + "\n")
  if refused:
    raise refused


def _compile_summary(report: dict) -> str:
  from mocogan_jax.aot import GIB
  memory, mesh = report["memory_bytes"], report["mesh"]
  # The CUDA compiler counts no cost: the numbers are the same step's on a CPU.
  cost_from = " (the step compiled for one CPU device)" if report["cost_from"] == "cpu" else ""
  kinds = ", ".join(f"{kind} {c['count']} ({c['bytes'] / 2**20:,.1f} MiB)"
                    for kind, c in sorted(report["collectives"].items())) or "none"
  lines = [
      ("topology", f"{report['topology']}{' x %d slices' % report['num_slices'] if report['num_slices'] > 1 else ''}: "
                   f"{report['chips']} chips, mesh data={mesh['data']} fsdp={mesh['fsdp']}"),
      ("program", f"conv_impl={report['conv_impl']} dtype={report['dtype']}, compiled in "
                  f"{report['compile_s']:.0f} s"),
      ("batch per chip", f"{report['video_batch_per_chip']:g} videos + "
                         f"{report['image_batch_per_chip']:g} images"),
      ("memory per chip", f"{memory['total'] / GIB:.2f} GiB of {report['hbm_bytes'] / GIB:.0f} GiB"
                          f" HBM: arguments "
                          f"{memory['arguments'] / GIB:.3f}, temporaries "
                          f"{memory['temporaries'] / GIB:.3f}, outputs {memory['outputs'] / GIB:.3f} "
                          f"({memory['aliased'] / GIB:.3f} over donated arguments), code "
                          f"{memory['code'] / GIB:.3f}"),
      ("FLOPs per chip per step", f"{report['flops']:.3e}{cost_from}"),
      ("HBM bytes per step", f"{report['bytes_accessed']:.3e}{cost_from}"),
      ("collectives", kinds),
      ("roofline step time", f"{report['roofline_s'] * 1e3:.3f} ms ({report['bound']}-bound), "
                             f"at most {report['videos_per_s']:,.0f} videos/s for the pod"),
  ]
  return "\n".join(f"{name:24s} {value}" for name, value in lines)


def cmd_info(args):
  from mocogan_jax import registry
  config = registry.resolve(args.config, args.overrides)
  info = {"model": config.model, **registry.get(config).info(config)}
  if args.json:
    print(json.dumps(info))
    return
  print(f"{'model':22s} {config.model}")
  for name, n in info["parameters"].items():
    print(f"{name:22s} {n:>13,d} parameters")
  print(f"{'latent':22s} {info['latent']}")
  print(f"{'video':22s} {' x '.join(map(str, info['video_shape']))} (T x H x W x C)")
  print(f"{'discriminators':22s} {info['discriminators']}")
  print(f"{'FLOPs per train step':22s} {info['flops_per_step']:.3e}")

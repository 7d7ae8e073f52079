"""`mocogan-jax` command line: one function per command, errors as one line."""

import argparse
import dataclasses
import json
import os
import sys
import traceback

from mocogan_jax import files
from mocogan_jax.errors import ConfigError


def _enable_compilation_cache():
  # Compiles dominate short runs on a CPU; a persistent cache makes the second
  # run of a config start in about a second.
  import jax
  if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    jax.config.update("jax_compilation_cache_dir",
                      os.path.join(os.path.expanduser("~"), ".cache", "mocogan_jax", "xla"))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def _config_for_workdir(args):
  from mocogan_jax import registry
  if args.config:
    return registry.resolve(args.config, args.overrides)
  saved = f"{args.workdir}/config.json"
  if not files.exists(saved):
    raise ConfigError(f"no --config given and no {saved} to resume from")
  return registry.resolve(saved, args.overrides)


def cmd_train(args):
  from mocogan_jax import sharding
  from mocogan_jax.train_loop import train
  sharding.initialize_distributed(args.coordinator, args.num_processes, args.process_id,
                                  auto=args.distributed, heartbeat_timeout=args.heartbeat_timeout)
  config = _config_for_workdir(args)
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


def cmd_export(args):
  import jax
  from mocogan_jax import checkpointing, encoding, export, registry, workdir
  config, state = workdir.load_state(args.workdir, args.checkpoint_dir, args.step)
  variables = jax.device_get(registry.get(config).sampling_variables(state))
  encoders, discriminators, what = None, None, "the generator"
  if config.model == "mocogan":  # what `train ... init_from=FILE` continues from
    discriminators = {name: jax.device_get(getattr(state, name).variables)
                      for name in export.DISCRIMINATORS}
    what += ", its discriminators"
  encoder_dir = os.path.join(args.workdir, "encoder")
  if checkpointing.existing(encoder_dir)[1] is not None:
    settings, encoder_variables, decoder_variables, _ = encoding.load(encoder_dir, config,
                                                                      variables)
    encoders = {"settings": json.dumps(dataclasses.asdict(settings)),
                "variables": jax.device_get(encoder_variables)}
    if settings.finetune_generator:
      encoders["generator"] = jax.device_get(decoder_variables)
    what += " and its encoders"
  export.write(args.out, config, variables, encoders, discriminators)
  count = sum(x.size for x in jax.tree.leaves(variables["params"]))
  print(f"wrote {what} ({count:,} generator parameters) to {files.absolute(args.out)}")


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
  counts = ", ".join(f"{name.replace('_', ' ')} ({sum(x.size for x in jax.tree.leaves(v['params'])):,}"
                     f" parameters)" for name, v in networks.items())
  print(f"wrote the {counts} to {files.absolute(args.out)}")


def cmd_export_torch(args):
  from mocogan_jax import export, registry, torch_interop, workdir
  _check_workdir_or_params(args)
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


def _check_workdir_or_params(args):
  if (args.workdir is None) == (args.params is None):
    raise ConfigError(f"{args.command} needs one of --workdir (a training run) or --params "
                      f"(a file written by 'mocogan-jax export' or 'import-torch')")


def _check_inversion_steps(args):
  if args.inversion_steps < 0:
    raise ConfigError(f"--inversion_steps must be >= 0, got {args.inversion_steps}")


def _check_out(path: str):
  """Before the slow part, so that a bad --out costs nothing."""
  from mocogan_jax import video_io
  try:
    video_io.check_output_path(path)
  except ValueError as e:
    raise ConfigError(str(e)) from None


def cmd_sample(args):
  import jax
  from mocogan_jax import export, registry, video_io, workdir
  from mocogan_jax.sampling import MOCOGAN_GENERATORS, sample_with_mode
  _check_out(args.out)
  _check_workdir_or_params(args)
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


def cmd_train_classifier(args):
  from mocogan_jax.evaluation import classifier
  config = _config_for_workdir(args)
  out = args.out or os.path.join(args.workdir, "classifier")
  files.require_writable(out, "--out")
  meta = classifier.train_classifier(config, out,
                                     settings_from_args(classifier.ClassifierSettings, args))
  print(f"classifier of {config.dataset} {config.label_key} ({meta['num_classes']} classes, "
        f"{meta['length']} frames at every_nth={config.every_nth}): held-out accuracy "
        f"{meta['held_out_accuracy']:.4f} on {meta['held_out_clips']} clips of "
        f"{meta['held_out']}; wrote {files.absolute(out)}")


def cmd_evaluate(args):
  import jax
  from mocogan_jax import registry, workdir
  from mocogan_jax.evaluation import evaluate
  metrics = evaluate.parse_metrics(args.metrics)
  if args.untrained and args.floor:
    raise ConfigError("--untrained and --floor exclude each other")
  _check_workdir_or_params(args)
  if args.params:  # an exported or imported generator: no workdir to read or write
    from mocogan_jax import export
    if args.untrained:
      raise ConfigError("--untrained evaluates a workdir's config; with --params "
                                   "the file's generator is evaluated")
    if set(metrics) & set(evaluate.CLASSIFIER_METRICS) and not args.classifier:
      raise ConfigError("mcs and is with --params need --classifier (a folder "
                                   "train-classifier wrote)")
    config, params_variables, _ = export.load(args.params)
    name = os.path.splitext(os.path.basename(args.params))[0]
    workdir_out = "eval"
  else:
    saved = f"{args.workdir}/config.json"
    if not files.exists(saved):
      raise ConfigError(f"{args.workdir} is not a training workdir (no config.json)")
    config = registry.resolve(saved)
    workdir_out = os.path.join(args.workdir, "eval")
  protocol = evaluate.Protocol(metrics, args.num, args.length, args.every_nth or config.every_nth,
                               args.batch, args.seed)
  evaluate.check_protocol(protocol)
  if args.floor:
    variables, what, name = None, None, "floor"
  elif args.untrained:
    model = registry.get(config)
    state = jax.jit(model.create_train_state, static_argnums=0)(config,
                                                                jax.random.key(config.seed))
    variables, what, name = (state.generator.variables, f"the untrained {config.model} generator",
                             "untrained")
  elif args.params:
    variables, what = params_variables, f"the {config.model} generator of {args.params}"
  else:
    config, state = workdir.load_state(args.workdir, args.checkpoint_dir, args.step)
    variables, step = registry.get(config).sampling_variables(state), int(state.step)
    what, name = f"the {config.model} generator at step {step}", f"step{step}"
  report = evaluate.evaluate(
      config, variables, protocol, what=what, real_dataset=args.real,
      classifier_dir=args.classifier or (args.workdir and os.path.join(args.workdir,
                                                                        "classifier")),
      c3d_dir=args.c3d, cache_dir=os.path.join(workdir_out, "cache"))
  report["workdir" if args.workdir else "params"] = files.absolute(args.workdir or args.params)
  out = args.out or os.path.join(workdir_out, f"{name}_n{protocol.num}.json")
  evaluate.write_report(report, out)
  print(evaluate.format_table(report))
  print(f"report: {files.absolute(out)}")


def cmd_train_encoder(args):
  from mocogan_jax import encoding, registry, workdir
  config, state = workdir.load_state(args.workdir, args.checkpoint_dir)
  encoding.check_model(config)
  settings = settings_from_args(encoding.EncoderSettings, args).check()
  out = args.out or os.path.join(args.workdir, "encoder")
  files.require_writable(out, "--out")
  joint = state.encoder.variables if state.encoder is not None else None
  if joint is not None:
    print("starting from the encoders trained with the GAN (encoder_weight "
          f"{config.encoder_weight})")
  meta = encoding.train_encoder(config, registry.get(config).sampling_variables(state), out,
                                settings,
                                state.image_discriminator.variables, joint)
  m = meta["measured"]
  print(f"encoders: held-out reconstruction PSNR {m['reconstruction_psnr']:.2f} dB, SSIM "
        f"{m['reconstruction_ssim']:.3f} ({m['clips']} clips of {meta['held_out']}); "
        f"generated videos: content MSE {m['content_mse_average']:.4f} (average of frames), "
        f"{m['content_mse_first']:.4f} (first frame), motion MSE {m['motion_mse']:.4f}; "
        f"wrote {files.absolute(out)}")


def cmd_train_baseline(args):
  from mocogan_jax import baseline
  config = _config_for_workdir(args)
  settings = settings_from_args(baseline.BaselineSettings, args).check()
  out = args.out or os.path.join(args.workdir, settings.model)
  files.require_writable(out, "--out")
  if not files.exists(f"{args.workdir}/config.json"):  # a workdir of baselines alone
    files.write_text(f"{args.workdir}/config.json", config.to_json())
  baseline.train_baseline(config, out, settings)
  print(f"{settings.model}: {settings.steps} steps; wrote {files.absolute(out)}")


def cmd_predict(args):
  import jax
  import numpy as np
  from mocogan_jax import prediction, video_io, workdir
  from mocogan_jax.data import pipeline, video_folder
  from mocogan_jax.pixels import to_float
  _check_out(args.out)
  if (args.input is None) == (args.dataset is None):
    raise ConfigError("predict needs one of --input VIDEO or --dataset NAME")
  if not 1 <= args.context < args.length:
    raise ConfigError(f"--context must be in [1, --length), got {args.context} and {args.length}")
  _check_workdir_or_params(args)
  _check_inversion_steps(args)
  if args.model == "mocogan" and args.params:
    config, settings, encoder_variables, variables = workdir.load_encoders(
        None, params=args.params)
    predictor = prediction.mocogan_predictor(config, settings.content_from, encoder_variables,
                                             variables, args.noise, args.inversion_steps)
  elif args.params:
    raise ConfigError(f"--params holds no {args.model} model: give its --workdir")
  else:
    config, predictor = prediction.load_predictor(args.model, args.workdir, args.noise,
                                                  args.checkpoint_dir, args.inversion_steps)
  if args.input:
    clips = video_folder.read_clip(args.input, config, args.length)
    if clips.shape[1] < args.context:
      raise ConfigError(f"{args.input} has {clips.shape[1]} frames at every_nth="
                        f"{config.every_nth}; --context is {args.context}")
  else:
    data_config = config if args.dataset == "test" else config.replace(dataset=args.dataset)
    _, held_out, _ = pipeline.train_and_held_out(data_config)
    clips, _ = pipeline.sample_clips(held_out, args.num, args.length, config.every_nth,
                                     [args.seed, pipeline.ClipStream.PREDICT])
  predicted = np.asarray(predictor(clips[:, :args.context], args.length,
                                   jax.random.key(args.seed)))
  truth = to_float(clips)
  rows = [[p, t if t.shape[0] > args.context else None] for p, t in zip(predicted, truth)]
  path = video_io.write_rows(args.out, rows, args.fps)
  print(f"wrote {len(rows)} predictions ({args.model}: {args.context} context frames, "
        f"{args.length - args.context} predicted; left prediction, right ground truth) to "
        f"{files.absolute(path)}")


def cmd_transfer(args):
  import numpy as np
  from mocogan_jax import encoding, video_io, workdir
  from mocogan_jax.data import video_folder
  from mocogan_jax.pixels import to_float
  _check_out(args.out)
  _check_workdir_or_params(args)
  _check_inversion_steps(args)
  config, settings, encoder_variables, variables = workdir.load_encoders(
      args.workdir, args.checkpoint_dir, args.params)
  content = video_folder.read_clip(args.content, config, args.length)
  motion = video_folder.read_clip(args.motion, config, args.length)
  moved = np.asarray(encoding.transfer(variables, encoder_variables, config,
                                       settings.content_from, content, motion,
                                       args.inversion_steps))
  path = video_io.write_rows(args.out, [[to_float(content[0]), to_float(motion[0]), moved[0]]],
                             args.fps)
  print(f"wrote content of {args.content} moving as {args.motion} (left to right: content, "
        f"motion, result) to {files.absolute(path)}")


def cmd_animate(args):
  import jax
  import numpy as np
  from mocogan_jax import encoding, video_io, workdir
  from mocogan_jax.data import video_folder
  from mocogan_jax.pixels import to_float
  _check_out(args.out)
  _check_workdir_or_params(args)
  _check_inversion_steps(args)
  if args.length < 1 or args.num < 1:
    raise ConfigError("--length and --num must be >= 1")
  config, settings, encoder_variables, variables = workdir.load_encoders(
      args.workdir, args.checkpoint_dir, args.params)
  if args.category is not None and not 0 <= args.category < config.n_categories:
    raise ConfigError(f"--category must be in [0, {config.n_categories}), got {args.category}")
  image = video_folder.read_clip(args.image, config, 1)[:, 0]  # (1, S, S, C)
  images = np.repeat(image, args.num, axis=0)
  categories = None if args.category is None else np.full(args.num, args.category)
  videos = np.asarray(encoding.animate(variables, encoder_variables, config,
                                       settings.content_from, images, args.length,
                                       jax.random.key(args.seed), categories,
                                       args.inversion_steps))
  path = video_io.write_rows(args.out, [[to_float(image[0])[None]] + list(videos)], args.fps)
  print(f"wrote {args.num} videos of {args.length} frames from {args.image} (left: the image) to "
        f"{files.absolute(path)}")


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


def cmd_config(args):
  from mocogan_jax import registry
  print(registry.resolve(args.config, args.overrides).to_json())


def _epilog() -> str:
  from mocogan_jax import config as config_lib
  return (f"presets: {', '.join(config_lib.preset_names())} (or a .py / .json config file). "
          "Any config field can follow as key=value, e.g. 'mocogan-jax train --config demo "
          "--workdir W num_steps=500 ema_decay=0'; 'mocogan-jax config demo' prints the "
          "resolved fields.")


def _version() -> str:
  import importlib.metadata
  try:
    return importlib.metadata.version("mocogan-jax")
  except importlib.metadata.PackageNotFoundError:  # run from a checkout without installing
    return "unknown"


def add_settings_flags(parser: argparse.ArgumentParser, settings_class):
  """One --flag per field of a side trainer's settings dataclass, its default,
  help and choices taken from the field (config.option)."""
  for field in dataclasses.fields(settings_class):
    meta, default = field.metadata, field.default
    if isinstance(default, bool):
      parser.add_argument(f"--{field.name}", action=argparse.BooleanOptionalAction,
                          default=default, help=meta["help"])
    else:
      parser.add_argument(f"--{field.name}", type=type(default), default=default,
                          choices=meta["choices"], help=f"{meta['help']} (default {default})")


def settings_from_args(settings_class, args):
  return settings_class(**{f.name: getattr(args, f.name)
                           for f in dataclasses.fields(settings_class)})


def _step(text: str) -> int | str:
  if text == "best":
    return text
  try:
    return int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"a step number or 'best', got {text!r}") from None


class _Parser(argparse.ArgumentParser):
  """Bad flags as one line, like every other input error of the command line."""

  def error(self, message):
    self.exit(2, f"{self.prog}: error: {message} (--help lists the flags)\n")


def _parents() -> dict[str, argparse.ArgumentParser]:
  """The flags several commands share, each written once."""

  def parent():
    return _Parser(add_help=False)

  overrides = parent()
  overrides.add_argument("overrides", nargs="*", metavar="key=value",
                         help="changes to the config's fields")
  checkpoint_dir = parent()
  checkpoint_dir.add_argument("--checkpoint_dir",
                              help="where the run's checkpoints are (default "
                                   "WORKDIR/checkpoints); may be gs://..., which every host "
                                   "of a pod can reach")
  run = parent()
  run.add_argument("--workdir", required=True, help="a training workdir")
  step = parent()
  step.add_argument("--step", type=_step, help="use the checkpoint of this step, or 'best': the "
                                               "one with the best evaluation (keep_best); "
                                               "default: the newest")
  run_or_file = parent()
  run_or_file.add_argument("--workdir", help="a training workdir (its newest checkpoint)")
  run_or_file.add_argument("--params", help="instead of --workdir: a file written by "
                                            "'mocogan-jax export' or 'import-torch', or the "
                                            "name of a shipped model (shape_motion)")
  video_out = parent()
  video_out.add_argument("--out", required=True, help="output video, .gif or .mp4")
  video_out.add_argument("--fps", type=int, default=8)
  optional_config = parent()
  optional_config.add_argument("--config", help="preset name or config file (.py / .json) "
                                                "when WORKDIR has no config.json")
  return {"overrides": overrides, "checkpoint_dir": checkpoint_dir, "run": run, "step": step,
          "run_or_file": run_or_file, "video_out": video_out, "optional_config": optional_config}


def build_parser() -> argparse.ArgumentParser:
  from mocogan_jax import baseline, encoding, prediction, sampling
  from mocogan_jax.evaluation import classifier
  parser = _Parser(prog="mocogan-jax", description=__doc__, epilog=_epilog())
  parser.add_argument("--version", action="version", version=f"mocogan-jax {_version()}")
  sub = parser.add_subparsers(dest="command", required=True)
  shared = _parents()

  def command(name, func, help, *parents):
    p = sub.add_parser(name, help=help, parents=[shared[k] for k in parents])
    p.set_defaults(func=func)
    return p

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
  p.add_argument("--mode", choices=sampling.MODES, default="random")

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

  p = command("train-classifier", cmd_train_classifier, "train the video classifier behind "
              "MCS and IS on the run's labelled dataset", "run", "optional_config", "overrides")
  p.add_argument("--out", help="where the classifier goes (default WORKDIR/classifier)")
  add_settings_flags(p, classifier.ClassifierSettings)

  p = command("evaluate", cmd_evaluate, "FVD, KVD, ACD, MCS, IS of a run's (or an exported "
                                        "file's) generator; writes a JSON report",
              "run_or_file", "checkpoint_dir", "step")
  p.add_argument("--metrics", default="fvd,kvd,acd",
                 help="comma-separated, from fvd,kvd,acd,acd_generic,mcs,is,is_c3d (default "
                      "fvd,kvd,acd)")
  p.add_argument("--num", type=int, default=2048, help="generated videos and real clips "
                                                       "(default 2048)")
  p.add_argument("--length", type=int, default=16, help="frames per video (default 16)")
  p.add_argument("--every_nth", type=int, help="stride of the real clips (default: the run's)")
  p.add_argument("--real", help="the real dataset to compare with (default: the run's)")
  p.add_argument("--classifier", help="for mcs and is (default WORKDIR/classifier)")
  p.add_argument("--c3d", help="for is_c3d: a folder with TGANv2's conv3d_deepnetA_ucf.npz and "
                               "mean2.npz")
  p.add_argument("--untrained", action="store_true",
                 help="evaluate the generator as initialised, not the newest checkpoint")
  p.add_argument("--floor", action="store_true",
                 help="evaluate held-out real videos instead of a generator: the best value "
                      "each metric can reach at this N")
  p.add_argument("--batch", type=int, default=16, help="videos per device call")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--out", help="report path (default WORKDIR/eval/<what>_n<N>.json; with "
                               "--params eval/<file name>_n<N>.json)")

  p = command("train-encoder", cmd_train_encoder, "train content and motion encoders for a "
              "run's generator; writes WORKDIR/encoder", "run", "checkpoint_dir")
  p.add_argument("--out", help="default WORKDIR/encoder")
  add_settings_flags(p, encoding.EncoderSettings)

  p = command("train-baseline", cmd_train_baseline, "train a frame-prediction baseline "
              "(ConvRNN or SVG-LP) on the run's dataset; writes WORKDIR/MODEL", "run",
              "optional_config", "overrides")
  p.add_argument("--out", help="default WORKDIR/MODEL (convrnn or svg)")
  add_settings_flags(p, baseline.BaselineSettings)

  def inversion_flag(p):
    p.add_argument("--inversion_steps", type=int, default=encoding.INVERSION_STEPS,
                   help="Adam steps that refine the codes of the input against its pixels "
                        f"(encoding.invert; default {encoding.INVERSION_STEPS}, about 0.5 s a "
                        "clip on 2 CPU cores); 0: the encoders' codes with the category picked")

  p = command("predict", cmd_predict, "continue videos: encode K frames, generate the rest",
              "run_or_file", "checkpoint_dir", "video_out")
  p.add_argument("--input", help="a video file (frames taken at the run's every_nth)")
  p.add_argument("--dataset", help="'test' (held-out videos of the run's dataset) or a dataset")
  p.add_argument("--num", type=int, default=4, help="clips with --dataset")
  p.add_argument("--context", type=int, default=4)
  p.add_argument("--length", type=int, default=16)
  p.add_argument("--model", default="mocogan", choices=prediction.PREDICTORS,
                 help="mocogan (--workdir or --params with encoders) or, from a --workdir, "
                      "conditional (a model=conditional run), its convrnn or svg baseline "
                      "or copy-last")
  p.add_argument("--noise", default="sample", choices=prediction.NOISE,
                 help="motion RNN inputs, SVG's z (default sample)")
  p.add_argument("--seed", type=int, default=0)
  inversion_flag(p)

  p = command("transfer", cmd_transfer, "the content of one video moving as another",
              "run_or_file", "checkpoint_dir", "video_out")
  p.add_argument("--content", required=True, help="video file A")
  p.add_argument("--motion", required=True, help="video file B")
  p.add_argument("--length", type=int, default=16)
  inversion_flag(p)

  p = command("animate", cmd_animate, "image-to-video: the content of one image, moving as "
              "the generator's motion prior draws", "run_or_file", "checkpoint_dir", "video_out")
  p.add_argument("--image", required=True, help="an image (or a video: its first frame)")
  p.add_argument("--category", type=int, default=None, help="the motion category (default: "
                                                            "random per video)")
  p.add_argument("--length", type=int, default=16)
  p.add_argument("--num", type=int, default=4, help="videos from the same image")
  p.add_argument("--seed", type=int, default=0)
  inversion_flag(p)

  p = command("info", cmd_info, "parameter counts, latent sizes, FLOPs per step", "overrides")
  p.add_argument("--config", required=True)
  p.add_argument("--json", action="store_true")
  return parser


def main(argv=None):
  args = build_parser().parse_args(argv)
  _enable_compilation_cache()
  from mocogan_jax.checkpointing import CheckpointError
  from mocogan_jax.small_trainer import Stopped
  from mocogan_jax.train_loop import TrainingError
  try:
    args.func(args)
  except Stopped as e:  # saved; the same command resumes
    print(e, file=sys.stderr)
    _exit(0)
  except ConfigError as e:  # the user's input
    print(f"mocogan-jax {args.command}: error: {e}", file=sys.stderr)
    _exit(2)
  except (TrainingError, CheckpointError) as e:  # the run cannot go on; nothing to debug
    print(f"mocogan-jax {args.command}: error: {e}", file=sys.stderr)
    _exit(1)
  except OSError as e:  # a full disk, a lost mount: the file and the reason
    where = f" ({e.filename})" if e.filename else ""
    print(f"mocogan-jax {args.command}: error: {e.strerror or e}{where}", file=sys.stderr)
    _exit(1)
  except Exception:
    if not _multi_process():
      raise
    traceback.print_exc()
    _exit(1)


def _multi_process() -> bool:
  import jax
  return jax.distributed.is_initialized()


def _exit(code: int):
  # A failing process of a multi-process run must not wait in JAX's shutdown
  # barrier for peers that are stuck in a collective with it: it leaves at
  # once, and JAX's heartbeat check stops the others (--heartbeat_timeout).
  if _multi_process():
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
  sys.exit(code)


if __name__ == "__main__":
  main()

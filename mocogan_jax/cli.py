"""`mocogan-jax` command line: one function per command, errors as one line."""

import argparse
import json
import os
import sys
import traceback


def _enable_compilation_cache():
  # Compiles dominate short runs on a CPU; a persistent cache makes the second
  # run of a config start in about a second.
  import jax
  if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    jax.config.update("jax_compilation_cache_dir",
                      os.path.join(os.path.expanduser("~"), ".cache", "mocogan_jax", "xla"))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def _config_for_workdir(args):
  from mocogan_jax import config as config_lib
  if args.config:
    return config_lib.resolve(args.config, args.overrides)
  saved = os.path.join(args.workdir, "config.json")
  if not os.path.exists(saved):
    raise config_lib.ConfigError(f"no --config given and no {saved} to resume from")
  return config_lib.resolve(saved, args.overrides)


def cmd_train(args):
  from mocogan_jax import sharding
  from mocogan_jax.train_loop import train
  sharding.initialize_distributed(args.coordinator, args.num_processes, args.process_id,
                                  auto=args.distributed, heartbeat_timeout=args.heartbeat_timeout)
  config = _config_for_workdir(args)
  path = train(config, args.workdir, args.checkpoint_dir)
  if path:  # process 0 writes the samples
    print(f"samples: {os.path.abspath(path)}")


def cmd_prepare(args):
  from mocogan_jax import config as config_lib
  from mocogan_jax.data import pipeline
  config = config_lib.resolve(args.config, args.overrides)
  source = pipeline.load_source(config)
  where = config.data_dir or "the TFDS default data dir"
  print(f"{config.dataset}: {len(source)} videos ready in {where}")


def cmd_export(args):
  import dataclasses
  import jax
  from mocogan_jax import checkpointing, encoding, export, workdir
  config, variables = workdir.load_generator(args.workdir, args.checkpoint_dir, args.step)
  variables, encoders, what = jax.device_get(variables), None, "the generator"
  encoder_dir = os.path.join(args.workdir, "encoder")
  if checkpointing.existing(encoder_dir)[1] is not None:
    settings, encoder_variables, decoder_variables, _ = encoding.load(encoder_dir, config,
                                                                      variables)
    encoders = {"settings": json.dumps(dataclasses.asdict(settings)),
                "variables": jax.device_get(encoder_variables)}
    if settings.finetune_generator:
      encoders["generator"] = jax.device_get(decoder_variables)
    what += " and its encoders"
  export.write(args.out, config, variables, encoders)
  count = sum(x.size for x in jax.tree.leaves(variables["params"]))
  print(f"wrote {what} ({count:,} generator parameters) to {os.path.abspath(args.out)}")


def _check_workdir_or_params(args):
  from mocogan_jax.config import ConfigError
  if (args.workdir is None) == (args.params is None):
    raise ConfigError(f"{args.command} needs one of --workdir (a training run) or --params "
                      f"(a file written by 'mocogan-jax export')")


def _load_encoders(args):
  """(config, encoder settings, encoder variables, the generator variables they
  decode with) from --workdir (WORKDIR/encoder) or --params (an exported file)."""
  from mocogan_jax import encoding, export, workdir
  from mocogan_jax.config import ConfigError
  _check_workdir_or_params(args)
  if args.workdir:
    config, variables = workdir.load_generator(args.workdir, args.checkpoint_dir)
    settings, encoder_variables, variables, _ = encoding.load(
        os.path.join(args.workdir, "encoder"), config, variables)
    return config, settings, encoder_variables, variables
  config, variables, encoders = export.load(args.params)
  if encoders is None:
    raise ConfigError(f"--params {args.params} holds no encoders; export a run that has them "
                      f"(after 'mocogan-jax train-encoder')")
  settings = encoding.EncoderSettings(**json.loads(encoders["settings"]))
  return config, settings, encoders["variables"], encoders.get("generator", variables)


def cmd_sample(args):
  import jax
  from mocogan_jax import export, video_io, workdir
  from mocogan_jax.config import ConfigError
  from mocogan_jax.sampling import sample_with_mode
  try:  # before the slow part, so a bad --out costs nothing
    video_io.check_output_path(args.out)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  _check_workdir_or_params(args)
  if args.params:
    config, variables, _ = export.load(args.params)
  else:
    config, variables = workdir.load_generator(args.workdir, args.checkpoint_dir, args.step)
  if args.category is not None and not 0 <= args.category < config.n_categories:
    raise ConfigError(f"--category must be in [0, {config.n_categories}), got {args.category}")
  if args.num < 1 or (args.length is not None and args.length < 1):
    raise ConfigError("--num and --length must be >= 1")
  length = args.length or config.video_length
  sample = jax.jit(sample_with_mode, static_argnums=(1, 3, 4, 5))
  videos = sample(variables, config, jax.random.key(args.seed), args.num, length, args.mode,
                  args.category)
  grid = video_io.video_grid(video_io.to_uint8(jax.device_get(videos)))
  path = video_io.write_video(args.out, grid, fps=args.fps, scale=max(1, 128 // config.image_size))
  print(f"wrote {args.num} videos of {length} frames ({args.mode}) to {os.path.abspath(path)}")


def cmd_train_classifier(args):
  from mocogan_jax.evaluation import classifier
  config = _config_for_workdir(args)
  out = args.out or os.path.join(args.workdir, "classifier")
  meta = classifier.train_classifier(config, out, args.length, args.steps, args.batch, args.width)
  print(f"classifier of {config.dataset} {config.label_key} ({meta['num_classes']} classes, "
        f"{args.length} frames at every_nth={config.every_nth}): held-out accuracy "
        f"{meta['held_out_accuracy']:.4f} on {meta['held_out_clips']} clips of "
        f"{meta['held_out']}; wrote {os.path.abspath(out)}")


def cmd_evaluate(args):
  import jax
  from mocogan_jax import config as config_lib, workdir
  from mocogan_jax.evaluation import evaluate
  from mocogan_jax.training import create_train_state, sampling_variables
  metrics = evaluate.parse_metrics(args.metrics)
  if args.untrained and args.floor:
    raise config_lib.ConfigError("--untrained and --floor exclude each other")
  saved = os.path.join(args.workdir, "config.json")
  if not os.path.exists(saved):
    raise config_lib.ConfigError(f"{args.workdir} is not a training workdir (no config.json)")
  config = config_lib.resolve(saved)
  protocol = evaluate.Protocol(metrics, args.num, args.length, args.every_nth or config.every_nth,
                               args.batch, args.seed)
  evaluate.check_protocol(protocol)
  if args.floor:
    variables, what, name = None, None, "floor"
  elif args.untrained:
    state = jax.jit(create_train_state, static_argnums=0)(config, jax.random.key(config.seed))
    variables, what, name = state.generator.variables, "the untrained generator", "untrained"
  else:
    config, state = workdir.load_state(args.workdir, args.checkpoint_dir, args.step)
    variables, step = sampling_variables(state), int(state.step)
    what, name = f"the generator at step {step}", f"step{step}"
  report = evaluate.evaluate(
      config, variables, protocol, what=what, real_dataset=args.real,
      classifier_dir=args.classifier or os.path.join(args.workdir, "classifier"),
      c3d_dir=args.c3d, cache_dir=os.path.join(args.workdir, "eval", "cache"))
  report["workdir"] = os.path.abspath(args.workdir)
  out = args.out or os.path.join(args.workdir, "eval", f"{name}_n{protocol.num}.json")
  evaluate.write_report(report, out)
  print(evaluate.format_table(report))
  print(f"report: {os.path.abspath(out)}")


def cmd_train_encoder(args):
  from mocogan_jax import encoding, workdir
  from mocogan_jax.training import sampling_variables
  config, state = workdir.load_state(args.workdir, args.checkpoint_dir)
  settings = encoding.EncoderSettings(
      content_from=args.content_from, latent_weight=args.latent_weight,
      reconstruction_weight=args.reconstruction_weight, feature_weight=args.feature_weight,
      finetune_generator=args.finetune_generator, learning_rate=args.learning_rate,
      batch=args.batch, steps=args.steps).check()
  out = args.out or os.path.join(args.workdir, "encoder")
  joint = state.encoder.variables if state.encoder is not None else None
  if joint is not None:
    print("starting from the encoders trained with the GAN (encoder_weight "
          f"{config.encoder_weight})")
  meta = encoding.train_encoder(config, sampling_variables(state), out, settings,
                                state.image_discriminator.variables, joint)
  m = meta["measured"]
  print(f"encoders: held-out reconstruction PSNR {m['reconstruction_psnr']:.2f} dB, SSIM "
        f"{m['reconstruction_ssim']:.3f} ({m['clips']} clips of {meta['held_out']}); "
        f"generated videos: content MSE {m['content_mse_average']:.4f} (average of frames), "
        f"{m['content_mse_first']:.4f} (first frame), motion MSE {m['motion_mse']:.4f}; "
        f"wrote {os.path.abspath(out)}")


def cmd_train_baseline(args):
  from mocogan_jax import baseline
  config = _config_for_workdir(args)
  settings = baseline.BaselineSettings(
      context=args.context, length=args.length, hidden=args.hidden, loss=args.loss,
      difference_weight=args.difference_weight, learning_rate=args.learning_rate,
      batch=args.batch, steps=args.steps).check()
  out = args.out or os.path.join(args.workdir, "baseline")
  baseline.train_baseline(config, out, settings)
  print(f"baseline: {settings.steps} steps; wrote {os.path.abspath(out)}")


def _read_clip(path: str, config, length: int):
  """uint8 (1, <= length, S, S, C): frames of a video file at the run's stride."""
  from mocogan_jax.config import ConfigError
  from mocogan_jax.data import video_folder
  if not os.path.isfile(path):
    raise ConfigError(f"video {path} not found")
  try:
    video = video_folder.read_video(path, config.image_size, config.channels)
  except video_folder.BadFile as e:
    raise ConfigError(f"cannot read video {e}") from None
  return video[None, :(length - 1) * config.every_nth + 1:config.every_nth]


def _write_rows(path: str, rows, config, fps: int):
  """rows: lists of float (T, S, S, C) videos (None = blank) -> one grid video."""
  import numpy as np
  from mocogan_jax import video_io
  length = max(v.shape[0] for row in rows for v in row if v is not None)
  s, c = config.image_size, config.channels
  tiles = []
  for row in rows:
    for v in row:
      tile = np.full((length, s, s, c), -1.0, np.float32)
      if v is not None:
        tile[:v.shape[0]] = v
      tiles.append(tile)
  grid = video_io.video_grid(video_io.to_uint8(np.stack(tiles)), columns=len(rows[0]))
  return video_io.write_video(path, grid, fps=fps, scale=max(1, 128 // config.image_size))


def cmd_predict(args):
  import jax
  import numpy as np
  from mocogan_jax import prediction, video_io, workdir
  from mocogan_jax.config import ConfigError
  from mocogan_jax.pixels import to_float
  from mocogan_jax.data import pipeline
  try:
    video_io.check_output_path(args.out)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  if (args.input is None) == (args.dataset is None):
    raise ConfigError("predict needs one of --input VIDEO or --dataset NAME")
  if not 1 <= args.context < args.length:
    raise ConfigError(f"--context must be in [1, --length), got {args.context} and {args.length}")
  _check_workdir_or_params(args)
  if args.model == "mocogan":
    config, settings, encoder_variables, variables = _load_encoders(args)
    predictor = prediction.mocogan_predictor(config, settings, encoder_variables, variables,
                                             args.noise)
  elif args.params:
    raise ConfigError(f"--params holds no {args.model} model: give its --workdir")
  else:
    config, variables = workdir.load_generator(args.workdir, args.checkpoint_dir)
    predictor = prediction.load_predictor(args.model, args.workdir, config, variables, args.noise)
  if args.input:
    clips = _read_clip(args.input, config, args.length)
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
  path = _write_rows(args.out, rows, config, args.fps)
  print(f"wrote {len(rows)} predictions ({args.model}: {args.context} context frames, "
        f"{args.length - args.context} predicted; left prediction, right ground truth) to "
        f"{os.path.abspath(path)}")


def cmd_transfer(args):
  import numpy as np
  from mocogan_jax import encoding, video_io
  from mocogan_jax.config import ConfigError
  from mocogan_jax.pixels import to_float
  try:
    video_io.check_output_path(args.out)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  config, settings, encoder_variables, variables = _load_encoders(args)
  content = _read_clip(args.content, config, args.length)
  motion = _read_clip(args.motion, config, args.length)
  moved = np.asarray(encoding.transfer(variables, encoder_variables, config,
                                       settings.content_from, content, motion))
  path = _write_rows(args.out, [[to_float(content[0]), to_float(motion[0]), moved[0]]], config,
                     args.fps)
  print(f"wrote content of {args.content} moving as {args.motion} (left to right: content, "
        f"motion, result) to {os.path.abspath(path)}")


def model_info(config) -> dict:
  """Parameter counts, latent sizes, shapes and FLOPs per step, without running anything."""
  import jax
  import numpy as np
  from mocogan_jax.training import create_train_state, train_step
  key = jax.random.key(0)
  state = jax.eval_shape(lambda key: create_train_state(config, key), key)
  count = lambda tree: int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))
  s, c, t = config.image_size, config.channels, config.video_length
  batch = {
      "video": jax.ShapeDtypeStruct((config.video_batch, t, s, s, c), np.uint8),
      "label": jax.ShapeDtypeStruct((config.video_batch,), np.int32),
      "image": jax.ShapeDtypeStruct((config.image_batch, s, s, c), np.uint8),
  }
  cost = jax.jit(train_step).lower(state, batch, key).cost_analysis() or {}
  return {
      "parameters": {
          "generator": count(state.generator.params),
          "motion_rnn": count(state.generator.params["motion_rnn"]),
          "image_discriminator": count(state.image_discriminator.params),
          "video_discriminator": count(state.video_discriminator.params),
      },
      "latent": {"content": config.dim_z_content, "category": config.n_categories,
                 "motion": config.dim_z_motion, "per_frame": config.dim_z},
      "video_shape": [t, s, s, c],
      "image_discriminator": config.image_discriminator,
      "video_discriminator": config.video_discriminator,
      "flops_per_step": float(cost.get("flops", float("nan"))),
  }


def cmd_info(args):
  from mocogan_jax import config as config_lib
  config = config_lib.resolve(args.config, args.overrides)
  info = model_info(config)
  if args.json:
    print(json.dumps(info))
    return
  for name, n in info["parameters"].items():
    print(f"{name:22s} {n:>13,d} parameters")
  lat = info["latent"]
  print(f"{'latent per frame':22s} {lat['per_frame']} = content {lat['content']} + "
        f"category {lat['category']} + motion {lat['motion']}")
  print(f"{'video':22s} {' x '.join(map(str, info['video_shape']))} (T x H x W x C)")
  print(f"{'discriminators':22s} image {info['image_discriminator']}, "
        f"video {info['video_discriminator']}")
  print(f"{'FLOPs per train step':22s} {info['flops_per_step']:.3e}")


CHECKPOINT_DIR_HELP = ("where checkpoints go (default WORKDIR/checkpoints); may be gs://..., "
                       "which every host of a pod can reach")


STEP_HELP = "use the checkpoint of this step (default: the newest)"


def cmd_config(args):
  from mocogan_jax import config as config_lib
  print(config_lib.resolve(args.config, args.overrides).to_json())


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


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog="mocogan-jax", description=__doc__, epilog=_epilog())
  parser.add_argument("--version", action="version", version=f"mocogan-jax {_version()}")
  sub = parser.add_subparsers(dest="command", required=True)

  p = sub.add_parser("config", help="print a preset (or config file) with key=value changes "
                                    "applied, as JSON")
  p.add_argument("config", metavar="NAME")
  p.add_argument("overrides", nargs="*", metavar="key=value")
  p.set_defaults(func=cmd_config)

  p = sub.add_parser("train", help="train (or resume) a MoCoGAN")
  p.add_argument("--config", help="preset name or config file (.py / .json); default: "
                                  "WORKDIR/config.json when resuming")
  p.add_argument("--workdir", required=True)
  p.add_argument("--checkpoint_dir", help=CHECKPOINT_DIR_HELP)
  p.add_argument("--distributed", action="store_true",
                 help="multi-host on a TPU pod or under SLURM (detected automatically)")
  p.add_argument("--coordinator", help="host:port of process 0, for other multi-host setups")
  p.add_argument("--num_processes", type=int)
  p.add_argument("--process_id", type=int)
  p.add_argument("--heartbeat_timeout", type=int, default=100,
                 help="seconds before the other processes of a multi-process run stop when "
                      "one has died (default: 100)")
  p.add_argument("overrides", nargs="*", metavar="key=value")
  p.set_defaults(func=cmd_train)

  p = sub.add_parser("prepare", help="build the config's dataset in its data_dir (once, before "
                                      "a multi-host launch)")
  p.add_argument("--config", required=True)
  p.add_argument("overrides", nargs="*", metavar="key=value")
  p.set_defaults(func=cmd_prepare)

  p = sub.add_parser("sample", help="write generated videos as a GIF or mp4 grid")
  p.add_argument("--workdir", help="a training workdir (its newest checkpoint)")
  p.add_argument("--params", help="a generator file written by 'mocogan-jax export', or the "
                                   "name of a shipped model (shape_motion)")
  p.add_argument("--checkpoint_dir", help=CHECKPOINT_DIR_HELP)
  p.add_argument("--step", type=int, help=STEP_HELP)
  p.add_argument("--out", required=True, help="output file, .gif or .mp4")
  p.add_argument("--num", type=int, default=16)
  p.add_argument("--length", type=int, default=None, help="frames (default: the training T)")
  p.add_argument("--category", type=int, default=None)
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--mode", choices=("random", "fixed-content", "fixed-motion"), default="random")
  p.add_argument("--fps", type=int, default=8)
  p.set_defaults(func=cmd_sample)

  p = sub.add_parser("export", help="write the generator of a run's newest checkpoint (and "
                                     "its encoders) to one file, for sampling and sharing")
  p.add_argument("--workdir", required=True)
  p.add_argument("--checkpoint_dir", help=CHECKPOINT_DIR_HELP)
  p.add_argument("--step", type=int, help=STEP_HELP)
  p.add_argument("--out", required=True, help="output file (msgpack), e.g. generator.msgpack")
  p.set_defaults(func=cmd_export)

  p = sub.add_parser("train-classifier", help="train the video classifier behind MCS and IS on "
                                               "the run's labelled dataset")
  p.add_argument("--workdir", required=True, help="a training workdir (its config.json names "
                                                  "the dataset), or a new folder with --config")
  p.add_argument("--config", help="preset or config file when WORKDIR has no config.json")
  p.add_argument("--out", help="where the classifier goes (default WORKDIR/classifier)")
  p.add_argument("--length", type=int, default=16, help="frames per clip (default 16, as FVD)")
  p.add_argument("--steps", type=int, default=1000)
  p.add_argument("--batch", type=int, default=16)
  p.add_argument("--width", type=int, default=16, help="channels of the first conv")
  p.add_argument("overrides", nargs="*", metavar="key=value")
  p.set_defaults(func=cmd_train_classifier)

  p = sub.add_parser("evaluate", help="FVD, KVD, ACD, MCS, IS of a run's generator; writes a "
                                       "JSON report")
  p.add_argument("--workdir", required=True)
  p.add_argument("--checkpoint_dir", help=CHECKPOINT_DIR_HELP)
  p.add_argument("--step", type=int, help=STEP_HELP)
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
  p.add_argument("--out", help="report path (default WORKDIR/eval/<what>_n<N>.json)")
  p.set_defaults(func=cmd_evaluate)

  p = sub.add_parser("train-encoder", help="train content and motion encoders for a run's "
                                            "generator; writes WORKDIR/encoder")
  p.add_argument("--workdir", required=True)
  p.add_argument("--checkpoint_dir", help=CHECKPOINT_DIR_HELP)
  p.add_argument("--out", help="default WORKDIR/encoder")
  p.add_argument("--content_from", default="average", help="average (default) | first")
  p.add_argument("--latent_weight", type=float, default=1.0)
  p.add_argument("--reconstruction_weight", type=float, default=1.0)
  p.add_argument("--feature_weight", type=float, default=0.0,
                 help="weight of a feature loss through the run's image discriminator")
  p.add_argument("--finetune_generator", action="store_true",
                 help="let the reconstruction loss train the generator too (see encoding.py)")
  p.add_argument("--learning_rate", type=float, default=1e-3)
  p.add_argument("--batch", type=int, default=16)
  p.add_argument("--steps", type=int, default=3000,
                 help="0 writes (and measures) the encoders a run trained with the GAN "
                      "(encoder_weight > 0) as they are; more steps fine-tune them")
  p.set_defaults(func=cmd_train_encoder)

  p = sub.add_parser("train-baseline", help="train the ConvRNN frame-prediction baseline on "
                                             "the run's dataset; writes WORKDIR/baseline")
  p.add_argument("--workdir", required=True)
  p.add_argument("--config", help="preset or config file when WORKDIR has no config.json")
  p.add_argument("--out", help="default WORKDIR/baseline")
  p.add_argument("--context", type=int, default=4)
  p.add_argument("--length", type=int, default=16)
  p.add_argument("--hidden", type=int, default=64)
  p.add_argument("--loss", default="l1", help="l1 (default) | l2")
  p.add_argument("--difference_weight", type=float, default=0.0,
                 help="weight of the loss on frame differences (motion)")
  p.add_argument("--learning_rate", type=float, default=1e-3)
  p.add_argument("--batch", type=int, default=16)
  p.add_argument("--steps", type=int, default=3000)
  p.add_argument("overrides", nargs="*", metavar="key=value")
  p.set_defaults(func=cmd_train_baseline)

  p = sub.add_parser("predict", help="continue videos: encode K frames, generate the rest")
  p.add_argument("--workdir", help="a training run with encoders (and its baseline)")
  p.add_argument("--params", help="instead of --workdir: a file written by 'mocogan-jax "
                                  "export' from a run with encoders (--model mocogan)")
  p.add_argument("--checkpoint_dir", help=CHECKPOINT_DIR_HELP)
  p.add_argument("--input", help="a video file (frames taken at the run's every_nth)")
  p.add_argument("--dataset", help="'test' (held-out videos of the run's dataset) or a dataset")
  p.add_argument("--num", type=int, default=4, help="clips with --dataset")
  p.add_argument("--context", type=int, default=4)
  p.add_argument("--length", type=int, default=16)
  p.add_argument("--model", default="mocogan", help="mocogan (default) | convrnn | copy-last")
  p.add_argument("--noise", default="sample", help="motion RNN inputs: sample (default) | mean")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--fps", type=int, default=8)
  p.add_argument("--out", required=True, help=".gif or .mp4")
  p.set_defaults(func=cmd_predict)

  p = sub.add_parser("transfer", help="the content of one video moving as another")
  p.add_argument("--workdir", help="a training run with encoders")
  p.add_argument("--params", help="instead of --workdir: a file written by 'mocogan-jax "
                                  "export' from a run with encoders")
  p.add_argument("--checkpoint_dir", help=CHECKPOINT_DIR_HELP)
  p.add_argument("--content", required=True, help="video file A")
  p.add_argument("--motion", required=True, help="video file B")
  p.add_argument("--length", type=int, default=16)
  p.add_argument("--fps", type=int, default=8)
  p.add_argument("--out", required=True, help=".gif or .mp4")
  p.set_defaults(func=cmd_transfer)

  p = sub.add_parser("info", help="parameter counts, latent sizes, FLOPs per step")
  p.add_argument("--config", required=True)
  p.add_argument("--json", action="store_true")
  p.add_argument("overrides", nargs="*", metavar="key=value")
  p.set_defaults(func=cmd_info)
  return parser


def main(argv=None):
  args = build_parser().parse_args(argv)
  _enable_compilation_cache()
  from mocogan_jax.checkpointing import CheckpointError
  from mocogan_jax.config import ConfigError
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

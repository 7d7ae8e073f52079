"""The commands of encoders and predictors: train-encoder, train-baseline,
predict, transfer, animate."""

import os

from mocogan_jax import files
from mocogan_jax.cli.flags import (add_settings_flags, check_inversion_steps, check_out,
                                   check_workdir_or_params, config_for_workdir,
                                   settings_from_args)
from mocogan_jax.errors import ConfigError


def add_commands(command) -> None:
  """Adds this module's commands through `command(name, function, help, *shared flags)`."""
  from mocogan_jax.predictors import baseline, encoding, prediction
  p = command("train-encoder", cmd_train_encoder, "train content and motion encoders for a "
              "run's generator; writes WORKDIR/encoder", "run", "checkpoint_dir")
  p.add_argument("--out", help="default WORKDIR/encoder")
  add_settings_flags(p, encoding.EncoderSettings)

  p = command("train-baseline", cmd_train_baseline, "train a frame-prediction baseline "
              "(ConvRNN or SVG-LP) on the run's dataset; writes WORKDIR/MODEL", "run",
              "optional_config", "overrides")
  p.add_argument("--out", help="default WORKDIR/MODEL (convrnn or svg)")
  add_settings_flags(p, baseline.BaselineSettings)

  def inversion_flag(p, default=encoding.INVERSION_STEPS, cost="about 0.5 s a 16-frame clip"):
    p.add_argument("--inversion_steps", type=int, default=default,
                   help="Adam steps that refine the codes of the input against its pixels "
                        f"(encoding.invert; default {default}, {cost} on 2 CPU cores); 0: the "
                        "encoders' codes with the category picked")

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
  p.add_argument("--category", type=int, default=None,
                 help="the motion category (default: the one the image is read under, whose "
                      "videos start where the image's shape is)")
  p.add_argument("--length", type=int, default=16)
  p.add_argument("--num", type=int, default=4, help="videos from the same image")
  p.add_argument("--seed", type=int, default=0)
  inversion_flag(p, encoding.ANIMATE_INVERSION_STEPS, "about 0.6 s an image")


def cmd_train_encoder(args):
  from mocogan_jax import registry, workdir
  from mocogan_jax.predictors import encoding
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
  from mocogan_jax.predictors import baseline
  config = config_for_workdir(args)
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
  from mocogan_jax import video_io, workdir
  from mocogan_jax.predictors import prediction
  from mocogan_jax.data import pipeline, video_folder
  from mocogan_jax.pixels import to_float
  check_out(args.out)
  if (args.input is None) == (args.dataset is None):
    raise ConfigError("predict needs one of --input VIDEO or --dataset NAME")
  if not 1 <= args.context < args.length:
    raise ConfigError(f"--context must be in [1, --length), got {args.context} and {args.length}")
  check_workdir_or_params(args)
  check_inversion_steps(args)
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
  from mocogan_jax import video_io, workdir
  from mocogan_jax.predictors import encoding
  from mocogan_jax.data import video_folder
  from mocogan_jax.pixels import to_float
  check_out(args.out)
  check_workdir_or_params(args)
  check_inversion_steps(args)
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
  from mocogan_jax import video_io, workdir
  from mocogan_jax.predictors import encoding
  from mocogan_jax.data import video_folder
  from mocogan_jax.pixels import to_float
  check_out(args.out)
  check_workdir_or_params(args)
  check_inversion_steps(args)
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

"""The flags and checks several commands share, each written once."""

import argparse
import dataclasses

from mocogan_jax import files
from mocogan_jax.errors import ConfigError


class Parser(argparse.ArgumentParser):
  """Bad flags as one line, like every other input error of the command line."""

  def error(self, message):
    self.exit(2, f"{self.prog}: error: {message} (--help lists the flags)\n")


def shared_flags() -> dict[str, argparse.ArgumentParser]:
  """{name: a parent parser}: the flags several commands take, by group."""

  def parent():
    return Parser(add_help=False)

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
  step.add_argument("--step", type=step_flag_type,
                    help="use the checkpoint of this step, or 'best': the one with the best "
                         "evaluation (keep_best); default: the newest")
  run_or_file = parent()
  run_or_file.add_argument("--workdir", help="a training workdir (its newest checkpoint)")
  run_or_file.add_argument("--params", help="instead of --workdir: a file written by "
                                            "'mocogan-jax export' or 'import-torch', or the "
                                            "name of a shipped model (shape_motion, shape_motion_64)")
  video_out = parent()
  video_out.add_argument("--out", required=True, help="output video, .gif or .mp4")
  video_out.add_argument("--fps", type=int, default=8)
  optional_config = parent()
  optional_config.add_argument("--config", help="preset name or config file (.py / .json) "
                                                "when WORKDIR has no config.json")
  return {"overrides": overrides, "checkpoint_dir": checkpoint_dir, "run": run, "step": step,
          "run_or_file": run_or_file, "video_out": video_out, "optional_config": optional_config}


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


def step_flag_type(text: str) -> int | str:
  if text == "best":
    return text
  try:
    return int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"a step number or 'best', got {text!r}") from None


def config_for_workdir(args):
  from mocogan_jax import registry
  if args.config:
    return registry.resolve(args.config, args.overrides)
  saved = f"{args.workdir}/config.json"
  if not files.exists(saved):
    raise ConfigError(f"no --config given and no {saved} to resume from")
  return registry.resolve(saved, args.overrides)


def check_workdir_or_params(args):
  if (args.workdir is None) == (args.params is None):
    raise ConfigError(f"{args.command} needs one of --workdir (a training run) or --params "
                      f"(a file written by 'mocogan-jax export' or 'import-torch')")


def check_inversion_steps(args):
  if args.inversion_steps < 0:
    raise ConfigError(f"--inversion_steps must be >= 0, got {args.inversion_steps}")


def check_out(path: str):
  """Before the slow part, so that a bad --out costs nothing."""
  from mocogan_jax import video_io
  try:
    video_io.check_output_path(path)
  except ValueError as e:
    raise ConfigError(str(e)) from None

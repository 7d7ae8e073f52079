"""`mocogan-jax` command line: one function per command, errors as one line.

Each module adds its commands (runs: config, train, prepare, sample, export,
import-torch, export-torch, info; evaluation: train-classifier, evaluate;
encoders: train-encoder, train-baseline, predict, transfer, animate); a
command's function parses, calls the library and prints.
"""

import argparse
import importlib.util
import os
import sys
import traceback

from mocogan_jax.cli import encoders, evaluation, flags, runs
from mocogan_jax.errors import ConfigError


def _enable_compilation_cache():
  # Compiles dominate short runs on a CPU; a persistent cache makes the second
  # run of a config start in about a second.
  import jax
  if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    jax.config.update("jax_compilation_cache_dir",
                      os.path.join(os.path.expanduser("~"), ".cache", "mocogan_jax", "xla"))
  if not os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"):
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def _leave_out_absent_tpu():
  # With libtpu installed (the tpu and test extras) JAX starts it on any host,
  # and on one without TPU chips it prints a screen of warnings about the TPU
  # it cannot find. JAX leaves CUDA out on a host without an NVIDIA GPU; this
  # does the same for the TPU. A JAX_PLATFORMS the user set is kept.
  if os.environ.get("JAX_PLATFORMS") or importlib.util.find_spec("libtpu") is None:
    return
  import jax
  from jax._src import hardware_utils
  if (hardware_utils.num_available_tpu_chips_and_device_id()[0] == 0
      and not hardware_utils.has_visible_nvidia_gpu()):
    jax.config.update("jax_platforms", "cpu")


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


def build_parser():
  parser = flags.Parser(prog="mocogan-jax", description=__doc__.split("\n")[0], epilog=_epilog())
  parser.add_argument("--version", action="version", version=f"mocogan-jax {_version()}")
  sub = parser.add_subparsers(dest="command", required=True)
  shared = flags.shared_flags()

  def command(name, func, help, *parents):
    p = sub.add_parser(name, help=help, parents=[shared[k] for k in parents])
    p.set_defaults(func=func)
    return p

  for module in (runs, evaluation, encoders):
    module.add_commands(command)
  return parser


def parse(argv=None) -> argparse.Namespace:
  """The command line, with key=value overrides read before and after flags
  (`train data_dir=D --workdir W num_steps=30`): argparse gives the
  overrides positional only the run of them before the first flag, and its
  parse_intermixed_args does not take subcommands."""
  parser = build_parser()
  args, rest = parser.parse_known_args(argv)
  if rest and (not hasattr(args, "overrides") or any(a.startswith("-") for a in rest)):
    parser.error(f"unrecognized arguments: {' '.join(rest)}")
  if rest:
    args.overrides = [*args.overrides, *rest]
  return args


def main(argv=None):
  args = parse(argv)
  _leave_out_absent_tpu()
  _enable_compilation_cache()
  from mocogan_jax.checkpointing import CheckpointError
  from mocogan_jax.small_trainer import Stopped
  from mocogan_jax.train_loop import TrainingError
  from mocogan_jax.workdir_lock import LockLost
  try:
    args.func(args)
  except Stopped as e:  # saved; the same command resumes
    print(e, file=sys.stderr)
    _exit(0)
  except ConfigError as e:  # the user's input
    _fail(args.command, str(e), 2)
  except (TrainingError, CheckpointError, LockLost) as e:  # the run cannot go on; nothing to debug
    _fail(args.command, str(e), 1)
  except OSError as e:  # a full disk, a lost mount: the file and the reason
    where = f" ({e.filename})" if e.filename else ""
    _fail(args.command, f"{e.strerror or e}{where}", 1)
  except Exception:
    if not _multi_process():
      raise
    traceback.print_exc()
    _exit(1)


# Set by run(), the console script; main called in a test's process leaves
# that process's stderr alone.
_last_line_is_the_error = False


def run():
  """The `mocogan-jax` command: main, whose one error line is the last thing
  it writes to stderr (_fail)."""
  global _last_line_is_the_error
  _last_line_is_the_error = True
  main()


def _fail(command: str, message: str, code: int):
  """Writes the command's one error line and exits with code. From the console
  script, stderr goes to /dev/null first and the line to the terminal behind
  it: library threads still unwinding after a failure (TensorStore's callbacks
  into orbax's closed event loop after a failed save, a TensorBoard writer's
  last flush at exit) print their tracebacks at any moment until the process
  ends, hundreds of lines after a lost bucket."""
  line = f"mocogan-jax {command}: error: {message}\n"
  if _last_line_is_the_error:
    sys.stdout.flush()
    sys.stderr.flush()
    terminal = os.dup(2)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    os.write(terminal, line.encode())
  else:
    sys.stderr.write(line)
  _exit(code)


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

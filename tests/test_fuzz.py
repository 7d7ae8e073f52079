"""Bad input, generated: every config override and command line either works
or is one line on stderr with exit 2, never a traceback; a config with
several problems names all of them in one message."""

import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mocogan_jax import cli as cli_lib, config as config_lib, registry
from mocogan_jax.errors import ConfigError

from conftest import cli

FIELDS = sorted(f.name for f in config_lib.dataclasses.fields(config_lib.Config))
# Values that sit on the edges of what the fields take, and text of any kind.
VALUES = st.one_of(
    st.sampled_from(["0", "1", "-1", "2", "3", "16", "64", "1e4", "1e400", "1.5", "-0.5", "nan",
                     "inf", "true", "false", "", "none", "batch", "vgan", "tgan", "conditional",
                     "fvd,acd", "acd", "shape_motion/32", "folder:/nonexistent"]),
    st.integers(-10**12, 10**12).map(str), st.floats().map(str), st.text(max_size=12))
OVERRIDES = st.lists(st.one_of(
    st.tuples(st.sampled_from(FIELDS), VALUES).map("=".join),
    st.tuples(st.text(max_size=8), VALUES).map("=".join),
    st.text(max_size=12)), max_size=6)


def _one_line(error: ConfigError):
  message = str(error)
  assert message and "\n" not in message, message


@settings(max_examples=400, deadline=None)
@given(preset=st.sampled_from(config_lib.preset_names()), overrides=OVERRIDES)
def test_any_overrides_resolve_or_are_refused_in_one_line(preset, overrides):
  try:
    config = registry.resolve(preset, overrides)
  except ConfigError as e:
    _one_line(e)
  else:
    assert isinstance(config, config_lib.Config)


def test_every_conflict_of_a_config_is_named_at_once():
  with pytest.raises(ConfigError) as error:
    registry.resolve("tiny", ["model=vgan"])
  _one_line(error.value)
  for fix in ("n_categories=0", "use_categories=False", "use_infogan=False", "noise_sigma=0.0"):
    assert fix in str(error.value)
  assert str(error.value).startswith("4 problems: (1) ")
  with pytest.raises(ConfigError, match=r"3 problems: .*'lr'.*ngf must be int.*'foo'"):
    registry.resolve("tiny", ["ngf=abc", "foo=1", "lr"])
  with pytest.raises(ConfigError, match=r"2 problems: .*image_batch must be >= 1.*learning_rate"):
    registry.resolve("tiny", ["image_batch=0", "learning_rate=-1"])


@pytest.fixture(scope="module")
def bad_paths(tmp_path_factory):
  """Inputs no command can use: a missing path, an empty file, random bytes
  named as a video, an image and a model file, a folder, a text file."""
  root = tmp_path_factory.mktemp("bad")
  (root / "empty.mp4").write_bytes(b"")
  for name in ("noise.gif", "noise.png", "noise.msgpack"):
    (root / name).write_bytes(os.urandom(300))
  (root / "text.json").write_text("{not json")
  (root / "folder").mkdir()
  return [str(root / n) for n in ("missing", "empty.mp4", "noise.gif", "noise.png",
                                  "noise.msgpack", "text.json", "folder", "new/out.gif",
                                  "new/out.mp4", "new/out.msgpack")]


def _commands():
  """{command: (its required flags, its other flags)} from the parser itself,
  so a new flag is fuzzed too."""
  parser = cli_lib.build_parser()
  commands = next(a for a in parser._actions if a.dest == "command").choices
  return {name: tuple(sorted(o for a in sub._actions if a.required == required
                             for o in a.option_strings[:1] if o != "-h") for required in (True, False))
          for name, sub in commands.items()}


COMMANDS = _commands()
TAKES_OVERRIDES = {"import-torch", "train-classifier", "train-baseline"}
# Where a flag names a model, a run, data or an output, only bad paths are
# drawn (bad_paths), so that no drawn command trains or samples for real: the
# property is about input handling, and every valid run is tested elsewhere.
PATH_FLAGS = {"--workdir", "--params", "--checkpoint_dir", "--content", "--motion", "--image",
              "--input", "--generator", "--image_discriminator", "--video_discriminator",
              "--classifier", "--real", "--dataset", "--out", "--c3d"}
SWITCHES = {"--untrained", "--floor", "--json", "--distributed", "--finetune_generator"}


@st.composite
def command_lines(draw, paths):
  """A command with its required flags and up to 5 others, each flag with a
  bad path or an edge value."""
  name = draw(st.sampled_from(sorted(set(COMMANDS) - {"prepare", "train", "info", "config"})))
  required, optional = COMMANDS[name]
  argv = [name]
  for flag in [*required, *draw(st.lists(st.sampled_from(optional), max_size=5, unique=True))]:
    argv.append(flag)
    if flag not in SWITCHES:
      argv.append(draw(st.sampled_from(paths)) if flag in PATH_FLAGS else draw(VALUES))
  if name in TAKES_OVERRIDES:
    argv += draw(st.lists(st.tuples(st.sampled_from(FIELDS), VALUES).map("=".join), max_size=2))
  return argv


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_command_line_with_bad_paths_is_refused_in_one_line(bad_paths, data):
  argv = data.draw(command_lines(bad_paths))
  code, _, err = cli(*argv, check=False)
  assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)


@settings(max_examples=100, deadline=None)
@given(overrides=OVERRIDES)
def test_any_config_command_prints_or_is_refused_in_one_line(overrides):
  code, _, err = cli("config", "tiny", *[o for o in overrides if not o.startswith("-")],
                     check=False)
  assert code in (0, 2) and (code == 0 or len(err.strip().splitlines()) == 1), err

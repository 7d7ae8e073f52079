"""Shared fixtures. Tests run on the CPU with tiny configs; compiled programs are
cached on disk so subprocess tests of the CLI reuse what in-process tests built."""

import json
import os

_CACHE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".jax_cache")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", _CACHE)
# Every program, however quick to compile: the CLI subprocesses would compile
# the same small programs again.
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Tests compile many small programs and run each a few steps, so compiling is
# most of the suite's time. Measured on the tiny step (2 cores): XLA's default
# 16.8 s; no backend optimisation 8.5 s; and the older loop emitters instead of
# the MLIR fusion emitters, codegen in one piece (each xdist worker has one
# core), 4.7-5.0 s. Same programs, same semantics; subprocesses inherit them.
FAST_COMPILE = ("--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
                " --xla_cpu_parallel_codegen_split_count=1")
# A process that sets its own optimisation level (a test timing long runs of
# one program) keeps XLA's defaults.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILE}".strip()


def logged_metrics(workdir: str) -> list[dict]:
  """The lines of a run's metrics.jsonl without steps_per_second, which no
  two runs share: what must equal an uninterrupted run's after a resume."""
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    lines = [json.loads(line) for line in f]
  return [{k: v for k, v in line.items() if k != "steps_per_second"} for line in lines]


def cli(*args, check=True):
  """The command line in this process (no interpreter start, compiled programs
  kept): returns (exit status, stdout, stderr)."""
  import contextlib
  import io
  from mocogan_jax import cli as cli_lib
  out, err, status = io.StringIO(), io.StringIO(), 0
  with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
      cli_lib.main(list(args))
    except SystemExit as e:
      status = e.code or 0
  if check:
    assert status == 0, err.getvalue()[-3000:]
  return status, out.getvalue(), err.getvalue()


def create_train_state(config, key):
  """mocogan.create_train_state(config, key) as one compiled program: op by op,
  initialising the networks compiles each of a few hundred small ops, seconds
  a test."""
  import jax
  from mocogan_jax.models import mocogan
  return jax.jit(mocogan.create_train_state, static_argnums=0)(config, key)


def cpu_env(devices: int = 1) -> dict:
  """The environment for a subprocess that sees `devices` CPU devices."""
  return dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=(
      f"{os.environ['XLA_FLAGS']} --xla_force_host_platform_device_count={devices}"))

import pytest  # noqa: E402

from mocogan_jax import config as config_lib  # noqa: E402


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
  """A TFDS data dir holding shape_motion/tiny16, built once per session."""
  path = str(tmp_path_factory.mktemp("tfds"))
  from mocogan_jax.data import pipeline
  pipeline.load_source(tiny_config_with(path))
  return path


def step_twice_and_check_purity(step, state, *args):
  """Runs the jitted step twice on the same inputs -> (state, metrics) of the
  first, after checking that the input state is untouched, the two runs are
  bit-identical and the new state has the old one's structure, shapes and dtypes."""
  import chex
  import jax
  import numpy as np
  before = jax.tree.map(np.array, state)
  s1, m1 = step(state, *args)
  s2, m2 = step(state, *args)
  chex.assert_trees_all_equal(before, jax.tree.map(np.array, state))
  chex.assert_trees_all_equal(s1, s2)
  chex.assert_trees_all_equal(m1, m2)
  chex.assert_trees_all_equal_shapes_and_dtypes(s1, state)
  return s1, m1


def tiny_config_with(data_dir: str, **overrides) -> config_lib.Config:
  return config_lib.load("tiny").replace(data_dir=data_dir, **overrides)


@pytest.fixture
def tiny_config(data_dir):
  return tiny_config_with(data_dir)


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory):
  """A GCS-protocol server (tests/gcs_server.py) with one bucket, "bucket";
  this process and its subprocesses talk to it through the environment.
  Yields its URL."""
  import gcs_server
  with gcs_server.running(tmp_path_factory.mktemp("gcs") / "server.log") as url:
    gcs_server.create_bucket(url, "bucket")
    variables = gcs_server.client_env(url)
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
      yield url
    finally:
      for k, v in saved.items():
        if v is None:
          os.environ.pop(k, None)
        else:
          os.environ[k] = v


@pytest.fixture(scope="session")
def gcs_bucket(gcs_server):
  """"gs://bucket" on the `gcs_server`."""
  return "gs://bucket"

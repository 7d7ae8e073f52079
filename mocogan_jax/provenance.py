"""What produced a result, recorded beside it: package versions, the git
commit of the checkout the package runs from, and the devices. Written to
WORKDIR/provenance.json by `train`, into every checkpoint's metadata and into
every evaluation report."""

import functools
import importlib.metadata
import os
import subprocess

import jax

PACKAGES = ("mocogan-jax", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint",
            "tensorflow-datasets", "numpy")


def _version(name: str) -> str | None:
  try:
    return importlib.metadata.version(name)
  except importlib.metadata.PackageNotFoundError:
    return None


@functools.cache
def _git() -> dict | None:
  """{"commit", "dirty"} of the checkout holding this package, or None when it
  is not in one (an installed wheel) or git is missing."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  try:
    run = lambda *args: subprocess.run(["git", "-C", root, *args], capture_output=True,
                                       text=True, timeout=10, check=True).stdout.strip()
    return {"commit": run("rev-parse", "HEAD"),
            "dirty": bool(run("status", "--porcelain", "--untracked-files=no"))}
  except (OSError, subprocess.SubprocessError):
    return None


def written_by() -> str:
  """This package's version and commit, for files it writes: "mocogan-jax
  0.2.0 (commit 1a2b3c4)"."""
  git = _git()
  commit = f" (commit {git['commit'][:7]}{', modified' if git['dirty'] else ''})" if git else ""
  return f"mocogan-jax {_version('mocogan-jax') or 'unknown'}{commit}"


def writer_of(record: dict | None) -> str:
  """written_by() of a saved record(), or "an unknown version" for one without it."""
  versions, git = (record or {}).get("versions") or {}, (record or {}).get("git")
  if not versions.get("mocogan-jax"):
    return "an unknown version of mocogan-jax"
  commit = f" (commit {git['commit'][:7]})" if git and git.get("commit") else ""
  return f"mocogan-jax {versions['mocogan-jax']}{commit}"


def record() -> dict:
  devices = jax.devices()
  return {"versions": {name: _version(name) for name in PACKAGES}, "git": _git(),
          "devices": {"platform": jax.default_backend(), "kind": devices[0].device_kind,
                      "count": len(devices), "processes": jax.process_count()}}

"""The exported file, and the models shipped inside the package.

An exported file is one msgpack file (flax.serialization), readable without
orbax or a workdir: the generator's variables with the config it needs, and
the run's encoders when it has them (with the generator they decode with, when
train-encoder fine-tuned it). `mocogan-jax export` writes it; `--params FILE`
reads it, and `--params NAME` reads a shipped model (mocogan_jax/pretrained/,
each described in pretrained/README.md).
"""

import json
import os

from flax import serialization

from mocogan_jax import config as config_lib

FORMAT = "mocogan-jax generator 1"
PRETRAINED = ("shape_motion",)


def pretrained_path(name: str) -> str:
  return os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained",
                      f"{name}.msgpack")


def write(path: str, config: config_lib.Config, variables, encoders=None) -> None:
  """Writes host arrays atomically. encoders: {"settings": json str,
  "variables": ..., optionally "generator": ...} or None."""
  payload = {"format": FORMAT, "config": config.to_json(), "variables": variables}
  if encoders is not None:
    payload["encoders"] = encoders
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path + ".tmp", "wb") as f:
    f.write(serialization.msgpack_serialize(payload))
  os.replace(path + ".tmp", path)


def load(path_or_name: str):
  """(config, generator variables, encoders dict or None) from an exported
  file, or from a shipped model's name (PRETRAINED)."""
  path = path_or_name
  if path in PRETRAINED and not os.path.exists(path):
    path = pretrained_path(path)
  elif not os.path.exists(path) and os.sep not in path and "." not in path:
    raise config_lib.ConfigError(f"--params {path}: no such file, and not a shipped model "
                                 f"({', '.join(PRETRAINED)})")
  try:
    with open(path, "rb") as f:
      payload = serialization.msgpack_restore(f.read())
  except OSError as e:
    raise config_lib.ConfigError(f"cannot read --params {path}: {e.strerror}") from None
  except Exception:
    raise config_lib.ConfigError(f"--params {path} is not a file written by "
                                 f"'mocogan-jax export'") from None
  if not isinstance(payload, dict) or payload.get("format") != FORMAT:
    raise config_lib.ConfigError(f"--params {path} is not a file written by "
                                 f"'mocogan-jax export'")
  config = config_lib.validate(config_lib.apply_overrides(config_lib.Config(),
                                                         json.loads(payload["config"])))
  return config, payload["variables"], payload.get("encoders")

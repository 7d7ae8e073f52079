"""The exported file, and the models shipped inside the package.

An exported file is one msgpack file (flax.serialization), readable without
orbax or a workdir: the generator's variables with the config it needs, and
the run's encoders when it has them (with the generator they decode with, when
train-encoder fine-tuned it), and the discriminators (of a MoCoGAN run, or of
the official PyTorch code through import-torch). `mocogan-jax export` writes it;
`--params FILE` reads it, `--params NAME` reads a shipped model
(mocogan_jax/pretrained/, each described in pretrained/README.md), and
`train ... init_from=FILE` starts a run from its networks (`start_from`).
"""

import json
import os
import re

import jax
import numpy as np
from flax import serialization, traverse_util

from mocogan_jax import config as config_lib, provenance, registry
from mocogan_jax.errors import ConfigError

FORMAT = "mocogan-jax generator 1"
PRETRAINED = ("shape_motion", "shape_motion_64")


def pretrained_path(name: str) -> str:
  return os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained",
                      f"{name}.msgpack")


DISCRIMINATORS = ("image_discriminator", "video_discriminator")


def write(path: str, config: config_lib.Config, variables, encoders=None,
          discriminators=None) -> None:
  """Writes host arrays atomically. encoders: {"settings": json str,
  "variables": ..., optionally "generator": ...} or None; discriminators:
  {"image_discriminator" and/or "video_discriminator": variables} or None."""
  payload = {"format": FORMAT, "written_by": provenance.written_by(), "config": config.to_json(),
             "variables": variables}
  if encoders is not None:
    payload["encoders"] = encoders
  payload |= discriminators or {}
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path + ".tmp", "wb") as f:
    f.write(serialization.msgpack_serialize(payload))
  os.replace(path + ".tmp", path)


def load(path_or_name: str):
  """(config, generator variables, encoders dict or None) from an exported
  file, or from a shipped model's name (PRETRAINED)."""
  config, payload = _read(path_or_name)
  return config, payload["variables"], payload.get("encoders")


def load_networks(path_or_name: str, flag: str = "--params"):
  """(config, {"generator": variables, and each discriminator the file has});
  `flag` names the setting the path came from, in errors."""
  config, payload = _read(path_or_name, flag)
  return config, _networks(payload)


def _networks(payload) -> dict:
  return {"generator": payload["variables"]} | {
      name: payload[name] for name in DISCRIMINATORS if name in payload}


def start_from(state, path: str, layers: str = "all"):
  """A fresh MoCoGAN train state with the networks of an exported file in
  place of its initial weights: the generator (and its moving average), and
  the discriminators where the file has them. The optimiser states stay as
  initialised. A run that trains its encoders with the GAN (encoder_weight > 0)
  starts them from the file's encoders when it has them. Works on sharded
  states, on one host or many.

  layers="all": every array must fit. "shared": the arrays of the same path
  and shape are taken and the others left as initialised. "prepend": as
  shared, but the file's image generator becomes the finer end of this one:
  its stage i (convolution, BatchNorm, modulation) is taken as stage i + d,
  d being how many stages this one has more, so its last stage, the one that
  writes RGB, stays the last, and the new first stages start fresh.
  Returns (state, [the "network/path" of each array left as initialised])."""
  _, payload = _read(path, "init_from")
  networks = _networks(payload)
  if state.encoder is not None:
    encoders = payload.get("encoders")
    if encoders is not None:
      content_from = json.loads(encoders["settings"])["content_from"]
      if content_from != "average":  # the joint step's encoders average over frames
        raise ConfigError(f"init_from {path}: its encoders read the content from "
                          f"{content_from!r} frames; training them with the GAN needs 'average'")
      networks["encoder"] = encoders["variables"]
  replaced, fresh = {}, []
  for name, variables in networks.items():
    network = getattr(state, name)
    ours = traverse_util.flatten_dict(network.variables, sep="/")
    theirs = traverse_util.flatten_dict(variables, sep="/")
    if layers == "prepend" and name == "generator":
      theirs = _stages_shifted(theirs, _stage_count(ours) - _stage_count(theirs))
    for key in sorted(ours.keys() | theirs.keys()):
      if key not in ours or key not in theirs or np.shape(theirs[key]) != ours[key].shape:
        if layers != "all":
          fresh += [f"{name}/{key}"] if key in ours else []
          continue
        raise ConfigError(
            f"init_from {path}: {name} {key} is "
            f"{np.shape(theirs[key]) if key in theirs else 'missing'} there and "
            f"{ours[key].shape if key in ours else 'absent'} in this run's config")
    placed = {k: jax.make_array_from_callback(
        ours[k].shape, ours[k].sharding,
        lambda index, v=np.asarray(theirs[k], ours[k].dtype): v[index])
        if f"{name}/{k}" not in fresh else ours[k] for k in ours}
    placed = traverse_util.unflatten_dict(placed, sep="/")
    # A network without BatchNorm has empty batch_stats, which flattening drops.
    replaced[name] = network.replace(params=placed["params"],
                                     batch_stats=placed.get("batch_stats", {}))
  if state.generator_ema is not None:  # its own buffers: the train step donates both
    replaced["generator_ema"] = jax.tree.map(lambda x: x.copy(), replaced["generator"].variables)
  return state.replace(**replaced), fresh


_STAGE = re.compile(r"(image_generator/(?:ConvTranspose2d|BatchNorm|Modulation))_(\d+)/")


def _stage_count(flat: dict) -> int:
  return sum(1 for key in flat if re.search(r"image_generator/ConvTranspose2d_\d+/kernel$", key))


def _stages_shifted(flat: dict, d: int) -> dict:
  """{path: array} with the image generator's stage i renamed i + d."""
  return {_STAGE.sub(lambda m: f"{m.group(1)}_{int(m.group(2)) + d}/", key): value
          for key, value in flat.items()}


def _read(path_or_name: str, flag: str = "--params"):
  """(config, the whole payload) of an exported file or a shipped model."""
  path = path_or_name
  if path in PRETRAINED and not os.path.exists(path):
    path = pretrained_path(path)
  elif not os.path.exists(path) and os.sep not in path and "." not in path:
    raise ConfigError(f"{flag} {path}: no such file, and not a shipped model "
                                 f"({', '.join(PRETRAINED)})")
  try:
    with open(path, "rb") as f:
      payload = serialization.msgpack_restore(f.read())
  except OSError as e:
    raise ConfigError(f"cannot read {flag} {path}: {e.strerror}") from None
  except Exception:
    raise ConfigError(f"{flag} {path} is not a file written by 'mocogan-jax export'") from None
  if not isinstance(payload, dict) or not str(payload.get("format")).startswith("mocogan-jax "):
    raise ConfigError(f"{flag} {path} is not a file written by 'mocogan-jax export'")
  if payload["format"] != FORMAT:
    raise ConfigError(f"{flag} {path} is in the format {payload['format']!r} of "
                      f"{payload.get('written_by', 'another version of mocogan-jax')}; "
                      f"{provenance.written_by()} reads {FORMAT!r}: export it again with the "
                      f"version that wrote it, or with this one from its workdir")
  config = registry.validate(
      config_lib.apply_overrides(config_lib.Config(), json.loads(payload["config"])))
  return config, payload

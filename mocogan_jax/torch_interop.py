"""The official PyTorch MoCoGAN's weights in and out (sergeytulyakov/mocogan).

The official networks are `nn.Sequential` stacks named `main` (plus the
generator's `GRUCell` named `recurrent`), so a state_dict names each tensor by
its module's position in the stack: `main.0.weight` is the generator's first
ConvTranspose2d, `main.1.running_var` the BatchNorm after it. Reading pairs
the file's convolutions and BatchNorms, in stack order, with this project's
(Flax numbers them in the same order), so forks that reorder the parameter-free
modules (Noise, activations) read the same; writing uses the official
positions (`_official_positions`). The table is in docs/interop.md.

Layouts (PyTorch -> here): Conv2d (O, I, kh, kw) -> (kh, kw, I, O); Conv3d
(O, I, kt, kh, kw) -> (kt, kh, kw, I, O); ConvTranspose2d (I, O, kh, kw) ->
(kh, kw, I, O), no flip (layers.conv_transpose2d is PyTorch's definition);
GRUCell weight_ih / weight_hh (3d, d) -> w_ih / w_hh (d, 3d), gates (reset,
update, new) in both; BatchNorm weight, bias, running_mean, running_var ->
scale, bias, mean, var. PyTorch's running_var averages the unbiased batch
variance and Flax's the biased one; both use the stored value as it is in
inference, so the copy is exact and only later training updates differ.

torch is needed only here, and only when these functions run (the `torch`
extra); everything else imports and runs without it.
"""

import io
import os
import pickle
import types

import jax
import numpy as np
from flax import traverse_util

from mocogan_jax.config import Config

from mocogan_jax.errors import ConfigError

NETWORKS = ("generator", "image_discriminator", "video_discriminator")
# The official class of each of our choices, with the arguments that build it.
OFFICIAL_IMAGE_DISCRIMINATORS = {"patch": "PatchImageDiscriminator", "full": "ImageDiscriminator"}
OFFICIAL_VIDEO_DISCRIMINATORS = {"categorical": "CategoricalVideoDiscriminator",
                                 "plain": "VideoDiscriminator",
                                 "patch": "PatchVideoDiscriminator"}


def _torch():
  try:
    import torch
  except ImportError:
    raise ConfigError("reading or writing PyTorch files needs torch: pip install "
                      "'mocogan-jax[torch]' (the CPU build is enough)") from None
  return torch


# --- Reading a file -----------------------------------------------------------------------

def _unpickler_module(torch):
  """A stand-in for the pickle module under torch.load: a class it cannot
  import (the official `models.VideoGenerator` when its source is not on the
  path) becomes an empty torch.nn.Module subclass of that name. Unpickling
  restores a module's `_modules`, `_parameters` and `_buffers` all the same,
  so its state_dict() is the official one without the official source."""

  class Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
      try:
        return super().find_class(module, name)
      except (ImportError, AttributeError):
        if module.split(".")[0] in ("torch", "numpy", "collections", "builtins"):
          raise
        return type(name, (torch.nn.Module,), {"__module__": module})

  stand_in = types.ModuleType("mocogan_jax_unpickler")
  stand_in.Unpickler = Unpickler
  stand_in.load = lambda f, **kw: Unpickler(f, **kw).load()
  stand_in.loads = lambda b, **kw: Unpickler(io.BytesIO(b), **kw).load()
  return stand_in


def read_state_dict(path: str) -> dict[str, np.ndarray]:
  """The tensors of a file `torch.save` wrote, as numpy arrays by state_dict
  key: a state_dict, or a whole pickled module (the official trainer's
  `generator_NNNNN.pytorch`). A pickled module is unpickled in full, which
  runs code the file names: read only files you trust."""
  torch = _torch()
  if not os.path.isfile(path):
    raise ConfigError(f"{path}: no such file")
  try:
    saved = torch.load(path, map_location="cpu", weights_only=True)
  except pickle.UnpicklingError:  # a pickled module, which weights_only refuses
    try:
      saved = torch.load(path, map_location="cpu", weights_only=False,
                         pickle_module=_unpickler_module(torch))
    except Exception as e:
      raise ConfigError(f"{path} is not a file torch.save wrote ({type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else ''})") from None
  except Exception:
    raise ConfigError(f"{path} is not a file torch.save wrote") from None
  if isinstance(saved, torch.nn.Module):
    saved = saved.state_dict()
  if not isinstance(saved, dict) or not all(torch.is_tensor(v) for v in saved.values()):
    raise ConfigError(f"{path} holds a {type(saved).__name__}, not a module or a state_dict")
  # nn.DataParallel, which forks train with, prefixes every key with "module.".
  return {k.removeprefix("module."): v.detach().cpu().numpy() for k, v in saved.items()}


def _modules(state: dict) -> list[tuple[str, dict]]:
  """state_dict -> [(module name, {tensor name: array})] in stack order
  (main.2 before main.10)."""
  modules = {}
  for key, value in state.items():
    name, _, leaf = key.rpartition(".")
    modules.setdefault(name, {})[leaf] = value
  order = lambda name: [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in name.split(".")]
  return sorted(modules.items(), key=lambda item: order(item[0]))


def _convs_and_norms(state: dict):
  """(convolutions [(key, weight)], BatchNorms [(name, tensors)]) in stack order."""
  convs, norms = [], []
  for name, tensors in _modules(state):
    if "running_mean" in tensors:
      norms.append((name, tensors))
    elif "weight" in tensors and tensors["weight"].ndim >= 4:
      convs.append((f"{name}.weight", tensors["weight"]))
  return convs, norms


def architecture(network: str, state: dict) -> dict:
  """The config fields a network's tensors determine (for the error message
  when they disagree with the config)."""
  convs, _ = _convs_and_norms(state)
  if not convs:
    return {}
  first, last = convs[0][1], convs[-1][1]
  if network == "generator":
    n_up = len(convs) - 1
    found = {"image_size": 4 * 2 ** n_up, "ngf": first.shape[1] // min(2 ** (n_up - 1), 8),
             "channels": last.shape[1]}
    if "recurrent.weight_ih" in state:
      motion = state["recurrent.weight_ih"].shape[1]
      found |= {"dim_z_motion": motion, "dim_z_content+n_categories": first.shape[0] - motion}
    return found
  found = {"ndf": first.shape[0], "channels": first.shape[1]}
  if network == "video_discriminator" and last.shape[0] > 1:
    found |= {"video_discriminator": "categorical", "n_categories": last.shape[0] - 1}
  return found


# --- Our variables <-> state_dicts --------------------------------------------------------

def _torch_axes(ndim: int, transposed: bool) -> tuple[int, ...]:
  """Our kernel's axes (k.., I, O) in the order of PyTorch's weight:
  (O, I, k..) for a convolution, (I, O, kh, kw) for a ConvTranspose2d."""
  if transposed:
    return (2, 3, 0, 1)
  return (ndim - 1, ndim - 2) + tuple(range(ndim - 2))


def _layer_order(path: tuple) -> list:
  """Orders Flax's auto-named layers (Conv2d_10 after Conv2d_9) by depth."""
  order = []
  for part in path:
    name, _, number = part.rpartition("_")
    order.append((name, int(number)) if number.isdigit() else (part, -1))
  return order


def _our_layers(variables):
  """(kernel paths, BatchNorm paths) of our variables, in depth order; a BatchNorm
  path is the module's path inside "params" and "batch_stats"."""
  flat = traverse_util.flatten_dict(variables["params"])
  kernels = sorted((p for p in flat if p[-1] == "kernel"), key=_layer_order)
  norms = sorted({p[:-1] for p in flat if p[-1] == "scale"}, key=_layer_order)
  return kernels, norms


def to_flax(network: str, state: dict, template, where: str, settings: str):
  """A state_dict -> our variables shaped like `template` ({"params",
  "batch_stats"}, arrays or ShapeDtypeStructs). Refuses, in one line naming the
  tensor and both shapes, anything that does not fit."""
  convs, norms = _convs_and_norms(state)
  kernels, norm_paths = _our_layers(template)
  params = traverse_util.flatten_dict(template["params"])
  stats = traverse_util.flatten_dict(template["batch_stats"])
  transposed = network == "generator"
  hint = " ".join(f"{k}={v}" for k, v in architecture(network, state).items())

  def refuse(what: str):
    raise ConfigError(f"{network} {what} in {where}; the config ({settings}) disagrees: the "
                      f"file's shapes say {hint}")

  if len(convs) != len(kernels) or len(norms) != len(norm_paths):
    refuse(f"has {len(convs)} convolutions and {len(norms)} BatchNorms where the config's "
           f"network has {len(kernels)} and {len(norm_paths)},")
  new_params, new_stats = {}, {}

  def put(target, path, key, axes):
    """The file's tensor `key` as our `path`; axes: ours in PyTorch's order."""
    expected = (params if target is new_params else stats)[path]
    expected_torch = tuple(expected.shape[i] for i in axes)
    if state[key].shape != expected_torch:
      refuse(f"tensor {key} is {state[key].shape} and the config expects {expected_torch},")
    target[path] = np.asarray(state[key].transpose(np.argsort(axes)), np.float32)

  for (key, _), path in zip(convs, kernels):
    put(new_params, path, key, _torch_axes(len(params[path].shape), transposed))
  for (name, _), path in zip(norms, norm_paths):
    for leaf, ours, target in (("weight", "scale", new_params), ("bias", "bias", new_params),
                               ("running_mean", "mean", new_stats),
                               ("running_var", "var", new_stats)):
      put(target, path + (ours,), f"{name}.{leaf}", (0,))
  if network == "generator":
    for leaf, ours in (("weight_ih", "w_ih"), ("weight_hh", "w_hh"), ("bias_ih", "b_ih"),
                       ("bias_hh", "b_hh")):
      key = f"recurrent.{leaf}"
      if key not in state:
        refuse(f"has no tensor {key}")
      put(new_params, ("motion_rnn", ours), key, (1, 0) if ours.startswith("w") else (0,))
  missing = sorted("/".join(p) for p in set(params) - set(new_params))
  if missing:
    refuse(f"has nothing for our {missing[0]}")
  return {"params": traverse_util.unflatten_dict(new_params),
          "batch_stats": traverse_util.unflatten_dict(new_stats)}


def _discriminator_positions(n_blocks: int, noise_before_last: bool):
  """Stack positions of an official discriminator's convs and BatchNorms: each
  block is Noise, Conv, BatchNorm (not in the first), LeakyReLU; then the last
  conv, after a Noise only in PatchImageDiscriminator."""
  convs, norms, i = [], [], 0
  for block in range(n_blocks):
    convs.append(i + 1)
    i += 2
    if block:
      norms.append(i)
      i += 1
    i += 1
  convs.append(i + 1 if noise_before_last else i)
  return convs, norms


def official_positions(network: str, config: Config):
  """(conv positions, BatchNorm positions) in the official `main` stack."""
  depth = int(np.log2(config.image_size)) - 2  # stride-2 blocks down to 4x4
  if network == "generator":  # ConvT, BatchNorm, ReLU per block; the last ConvT, Tanh
    return [3 * i for i in range(depth + 1)], [3 * i + 1 for i in range(depth)]
  if network == "image_discriminator":
    patch = config.image_discriminator == "patch"
    return _discriminator_positions(3 if patch else depth, noise_before_last=patch)
  return _discriminator_positions(3 if config.video_discriminator == "patch" else depth,
                                  noise_before_last=False)


def from_flax(network: str, variables, config: Config) -> dict[str, np.ndarray]:
  """Our variables -> the official class's state_dict, as numpy arrays."""
  kernels, norm_paths = _our_layers(variables)
  conv_positions, norm_positions = official_positions(network, config)
  params = traverse_util.flatten_dict(jax.device_get(variables["params"]))
  stats = traverse_util.flatten_dict(jax.device_get(variables["batch_stats"]))
  state = {}
  for path, position in zip(kernels, conv_positions, strict=True):
    kernel = np.asarray(params[path])
    state[f"main.{position}.weight"] = kernel.transpose(
        _torch_axes(kernel.ndim, network == "generator"))
  for path, position in zip(norm_paths, norm_positions, strict=True):
    state |= {f"main.{position}.weight": params[path + ("scale",)],
              f"main.{position}.bias": params[path + ("bias",)],
              f"main.{position}.running_mean": stats[path + ("mean",)],
              f"main.{position}.running_var": stats[path + ("var",)],
              f"main.{position}.num_batches_tracked": np.zeros((), np.int64)}
  if network == "generator":
    rnn = {k[-1]: v for k, v in params.items() if k[0] == "motion_rnn"}
    state |= {"recurrent.weight_ih": rnn["w_ih"].T, "recurrent.weight_hh": rnn["w_hh"].T,
              "recurrent.bias_ih": rnn["b_ih"], "recurrent.bias_hh": rnn["b_hh"]}
  return {k: np.ascontiguousarray(v) for k, v in state.items()}


def official_classes(config: Config) -> dict:
  """{network: [official class name, its constructor's keyword arguments]}."""
  noise = {"use_noise": config.noise_sigma > 0, "noise_sigma": config.noise_sigma or None}
  video = OFFICIAL_VIDEO_DISCRIMINATORS[config.video_discriminator]
  video_args = ({"n_channels": config.channels, "dim_categorical": config.n_categories}
                if video == "CategoricalVideoDiscriminator"  # its ndf is always 64
                else {"n_channels": config.channels, "ndf": config.ndf})
  return {
      "generator": ["VideoGenerator", {
          "n_channels": config.channels, "dim_z_content": config.dim_z_content,
          "dim_z_category": config.n_categories, "dim_z_motion": config.dim_z_motion,
          "video_length": config.video_length, "ngf": config.ngf}],
      "image_discriminator": [OFFICIAL_IMAGE_DISCRIMINATORS[config.image_discriminator],
                              {"n_channels": config.channels, "ndf": config.ndf} | noise],
      "video_discriminator": [video, video_args | noise],
  }


# --- The commands ---------------------------------------------------------------------

def check_mappable(config: Config, networks) -> None:
  """The official networks exist only for these settings."""
  if config.model != "mocogan":
    raise ConfigError(f"the official networks are MoCoGAN's; model={config.model} has none")
  if config.attention_resolution:
    raise ConfigError("the official networks have no self-attention (attention_resolution=0)")
  if config.content_modulation:
    raise ConfigError("the official generator has no content modulation (content_modulation=false)")
  if config.output_blur:
    raise ConfigError("the official generator has no output blur (output_blur=false)")
  if config.output_upsample != "transpose":
    raise ConfigError("the official generator's last layer is a transposed convolution "
                      "(output_upsample=transpose)")
  discriminators = [n for n in networks if n != "generator"]
  norms = {config.discriminator_norm, config.image_discriminator_norm or "batch"}
  if discriminators and norms != {"batch"}:
    raise ConfigError("the official discriminators use BatchNorm (discriminator_norm=batch)")


def _summary(config: Config) -> str:
  fields = ("image_size", "channels", "ngf", "ndf", "dim_z_content", "n_categories",
            "dim_z_motion", "image_discriminator", "video_discriminator")
  return " ".join(f"{f}={getattr(config, f)}" for f in fields)


def import_files(paths: dict[str, str], config: Config) -> dict:
  """{network: path of a torch file} -> {network: our variables}, checked
  against `config` (the file's shapes must be the config's)."""
  from mocogan_jax.models import mocogan
  check_mappable(config, paths)
  template = jax.eval_shape(lambda key: mocogan.create_train_state(config, key),
                            jax.random.key(0))
  return {name: to_flax(name, read_state_dict(path), getattr(template, name).variables, path,
                        _summary(config))
          for name, path in paths.items()}


def unofficial_shapes(config: Config, networks) -> list[str]:
  """What the official classes cannot build of these networks (they are
  hard-wired to 64x64, and CategoricalVideoDiscriminator to ndf = 64)."""
  notes = []
  if config.image_size != 64:
    notes.append(f"the official classes build 64x64 networks and these are "
                 f"{config.image_size}x{config.image_size}: their stacks have "
                 f"{'fewer' if config.image_size < 64 else 'more'} blocks, at the same positions "
                 f"per block")
  if ("video_discriminator" in networks and config.video_discriminator == "categorical"
      and config.ndf != 64):
    notes.append(f"the official CategoricalVideoDiscriminator has ndf = 64, this one {config.ndf}")
  return notes


def write_files(out_dir: str, config: Config, networks: dict) -> list[str]:
  """Writes each network's state_dict to OUT_DIR/<network>.pth and
  OUT_DIR/official_classes.json (the class and arguments that load each);
  returns the paths written."""
  torch = _torch()
  import json
  check_mappable(config, networks)
  os.makedirs(out_dir, exist_ok=True)
  written = []
  for name, variables in networks.items():
    state = {k: torch.tensor(v) for k, v in from_flax(name, variables, config).items()}
    path = os.path.join(out_dir, f"{name}.pth")
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)
    written.append(path)
  classes = {k: v for k, v in official_classes(config).items() if k in networks}
  path = os.path.join(out_dir, "official_classes.json")
  with open(path, "w") as f:
    json.dump(classes, f, indent=2)
  return written + [path]


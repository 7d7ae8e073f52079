"""The models the training loop runs, selected by `config.model`, and their
steps compiled for a device mesh.

A model is six functions: its train state, its pure train step, the
generator variables to sample from, its sampler, its config checks and its
`info`. The loop (train_loop.py), evaluation (evaluation/evaluate.py), the
opening of a workdir (workdir.py: sample, export, evaluate) and `info` take
them from here, so a new model is a module with these six, a preset in
configs/, and one entry in MODELS. `resolve` and `validate` live here, not in
config.py, because a config's checks include its model's. MoCoGAN's own extras (`sample --mode
fixed-content|fixed-motion`, the encoders, predict and transfer) check
`config.model` themselves.
"""

import functools
from typing import Callable, NamedTuple

import jax

from mocogan_jax import config as config_lib, gan, sharding
from mocogan_jax.config import Config
from mocogan_jax.errors import problems_error
from mocogan_jax.models import conditional, mocogan, tgan, vgan


class Model(NamedTuple):
  create_train_state: Callable  # (config, key) -> state, one pytree with .step and .config
  train_step: Callable  # (state, batch, key) -> (state, metrics: dict of scalars)
  sampling_variables: Callable  # state -> the generator's variables to sample from
  # (variables, config, key, num_videos, length, category=None) -> float (N, T, S, S, C);
  # category: an int or (N,) ints for the categories of a conditioned model.
  sample_videos: Callable
  config_problems: Callable  # config -> [the settings the model cannot take, each as its fix]
  info: Callable  # config -> {"parameters": {network: count}, "latent", "video_shape", ...}


MODELS = {
    "mocogan": Model(mocogan.create_train_state, mocogan.train_step,
                     mocogan.sampling_variables, mocogan.sample_videos,
                     mocogan.config_problems, mocogan.model_info),
    "vgan": Model(vgan.create_train_state, vgan.train_step, gan.sampling_variables,
                  vgan.sample_videos, vgan.config_problems, vgan.model_info),
    "tgan": Model(tgan.create_train_state, tgan.train_step, gan.sampling_variables,
                  tgan.sample_videos, tgan.config_problems, tgan.model_info),
    "conditional": Model(conditional.create_train_state, conditional.train_step,
                         mocogan.sampling_variables, conditional.sample_videos,
                         conditional.config_problems, conditional.model_info),
}


def get(config: Config) -> Model:
  return MODELS[config.model]


def validate(config: Config) -> Config:
  """Raises one ConfigError naming every problem of `config` (its ranges, then
  the model's own checks); returns the config."""
  found = config_lib.problems(config)
  if config.model not in MODELS:
    found.append(f"model must be one of {tuple(MODELS)}, got {config.model!r}")
  elif config.image_size in config_lib.SUPPORTED_IMAGE_SIZES:  # the checks divide by it
    found += MODELS[config.model].config_problems(config)
  if found:
    raise problems_error(found)
  return config


def resolve(name_or_file: str, overrides=()) -> Config:
  """A preset name, a .py or config.json file, with "key=value" overrides,
  validated: the config a command runs."""
  return validate(config_lib.apply_overrides(config_lib.load(name_or_file), overrides))


# The train state carries config_lib.program_config(config), not the run's own
# config, and the compiled functions below are kept per (program config,
# layout): runs in one process that differ only in run settings (workdir,
# data_dir, num_steps, ...) trace and compile their steps once.

def state_shapes(config: Config):
  """The train state as ShapeDtypeStructs, without placement: the target for
  restoring a checkpoint onto the default device."""
  program = config_lib.program_config(config)
  create = get(program).create_train_state
  return jax.eval_shape(lambda key: create(program, key), jax.random.key(0))


def abstract_train_state(config: Config, mesh):
  """The train state as ShapeDtypeStructs carrying their shardings on `mesh`:
  the target layout for initialising, stepping and restoring checkpoints."""
  return sharding.fsdp_layout(state_shapes(config), mesh)


def _layout(abstract_state) -> tuple:
  """The shardings of `abstract_state` as a hashable key: (treedef, leaves)."""
  leaves, treedef = jax.tree.flatten(sharding.shardings_of(abstract_state))
  return treedef, tuple(leaves)


def jit_create_train_state(config: Config, abstract_state):
  """key -> create_train_state(config, key), placed as `abstract_state` says."""
  return _jit_create_train_state(config_lib.program_config(config), *_layout(abstract_state))


@functools.lru_cache(maxsize=32)
def _jit_create_train_state(program: Config, treedef, shardings: tuple):
  return jax.jit(functools.partial(get(program).create_train_state, program),
                 out_shardings=jax.tree.unflatten(treedef, shardings))


def jit_train_step(config: Config, abstract_state, mesh):
  """train_step(state, batch, key) compiled for `mesh`: the batch split over
  every device, the state laid out as `abstract_state` and donated."""
  return _jit_train_step(config.model, mesh, *_layout(abstract_state))


@functools.lru_cache(maxsize=32)
def _jit_train_step(model: str, mesh, treedef, shardings: tuple):
  state, rep = jax.tree.unflatten(treedef, shardings), sharding.replicated(mesh)
  train_step = MODELS[model].train_step

  def step_on_mesh(state, batch, key):
    with jax.sharding.use_abstract_mesh(mesh.abstract_mesh):  # for split_over_batch
      return train_step(state, batch, key)

  return jax.jit(step_on_mesh, in_shardings=(state, sharding.batch_sharding(mesh), rep),
                 out_shardings=(state, rep), donate_argnums=0)

"""Opening a training workdir: its config and its newest checkpoint, and the
encoders trained for it.

    config = workdir.load_config("workdirs/demo")
    config, state = workdir.load_state("workdirs/demo")
    config, generator_variables = workdir.load_generator("workdirs/demo")
    config, settings, encoder_variables, generator_variables = workdir.load_encoders(
        "workdirs/demo")
"""

import json
import os

import jax

from mocogan_jax import checkpointing, config as config_lib, encoding, export, files, registry
from mocogan_jax.errors import ConfigError


def load_config(path: str) -> config_lib.Config:
  """The config a workdir was made with (its config.json)."""
  saved = f"{path}/config.json"
  if not files.exists(saved):
    raise ConfigError(f"{path} is not a training workdir (no config.json)")
  return registry.resolve(saved)


def load_state(path: str, checkpoint_dir: str | None = None, step: int | str | None = None):
  """(config, the whole train state) from the newest checkpoint of a workdir,
  from checkpoint `step`, or with step="best" from the one with the best
  periodic evaluation (config.keep_best). checkpoint_dir: where the run kept
  its checkpoints, when not in the workdir."""
  config = load_config(path)
  checkpoints = checkpointing.directory(path, checkpoint_dir)
  create = registry.get(config).create_train_state
  abstract = jax.eval_shape(lambda key: create(config, key), jax.random.key(0))
  mngr = checkpointing.reader(checkpoints)
  if step == "best":
    step = checkpointing.best_step(mngr, config.keep_best) if config.keep_best else None
    if step is None:
      raise ConfigError(f"--step best: no checkpoint in {checkpoints} was saved with "
                                   f"an evaluation (train with keep_best=acd or another metric)")
  if step is not None:
    kept = sorted(mngr.all_steps())
    if step not in kept:
      raise ConfigError(f"--step {step}: no such checkpoint in {checkpoints} (kept: "
                                   f"{', '.join(map(str, kept)) or 'none'})")
    return config, checkpointing.restore(mngr, step, abstract)[0]
  state = checkpointing.restore_latest(mngr, abstract)
  if state is None:
    raise ConfigError(f"no checkpoint in {checkpoints}")
  return config, state


def load_generator(path: str, checkpoint_dir: str | None = None,
                   step: int | str | None = None):
  """(config, generator variables) from the newest checkpoint of a workdir (or
  checkpoint `step`): the moving average of its weights when the run keeps one."""
  config, state = load_state(path, checkpoint_dir, step)
  return config, registry.get(config).sampling_variables(state)


def load_encoders(path: str | None, checkpoint_dir: str | None = None, params: str | None = None):
  """(config, encoding.EncoderSettings, encoder variables, the generator
  variables they decode with) from a workdir's `encoder` folder (what
  train-encoder wrote), or from an exported file (`params`) that holds
  encoders."""
  if path is not None:
    config, variables = load_generator(path, checkpoint_dir)
    encoding.check_model(config)
    settings, encoder_variables, variables, _ = encoding.load(
        os.path.join(path, "encoder"), config, variables)
    return config, settings, encoder_variables, variables
  config, variables, encoders = export.load(params)
  if encoders is None:
    raise ConfigError(f"--params {params} holds no encoders; export a run that has "
                                 f"them (after 'mocogan-jax train-encoder')")
  settings = encoding.EncoderSettings(**json.loads(encoders["settings"]))
  return config, settings, encoders["variables"], encoders.get("generator", variables)

"""Opening a training workdir: its config and its newest checkpoint.

    config, state = workdir.load_state("workdirs/demo")
    config, generator_variables = workdir.load_generator("workdirs/demo")
"""

import os

import jax

from mocogan_jax import checkpointing, config as config_lib
from mocogan_jax.training import create_train_state, sampling_variables


def load_state(path: str, checkpoint_dir: str | None = None, step: int | None = None):
  """(config, the whole train state) from the newest checkpoint of a workdir,
  or from checkpoint `step` (checkpoint_dir: where the run kept its checkpoints,
  when not in the workdir)."""
  saved = os.path.join(path, "config.json")
  if not os.path.exists(saved):
    raise config_lib.ConfigError(f"{path} is not a training workdir (no config.json)")
  config = config_lib.resolve(saved)
  checkpoints = checkpointing.directory(path, checkpoint_dir)
  abstract = jax.eval_shape(lambda key: create_train_state(config, key), jax.random.key(0))
  mngr = checkpointing.manager(checkpoints)
  if step is not None:
    kept = sorted(mngr.all_steps())
    if step not in kept:
      raise config_lib.ConfigError(f"--step {step}: no such checkpoint in {checkpoints} (kept: "
                                   f"{', '.join(map(str, kept)) or 'none'})")
    return config, checkpointing.restore(mngr, step, abstract)[0]
  state = checkpointing.restore_latest(mngr, abstract)
  if state is None:
    raise config_lib.ConfigError(f"no checkpoint in {checkpoints}")
  return config, state


def load_generator(path: str, checkpoint_dir: str | None = None, step: int | None = None):
  """(config, generator variables) from the newest checkpoint of a workdir (or
  checkpoint `step`): the moving average of its weights when the run keeps one."""
  config, state = load_state(path, checkpoint_dir, step)
  return config, sampling_variables(state)

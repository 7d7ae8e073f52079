"""Opening a training workdir: its config and its newest checkpoint, and the
encoders trained for it.

    config = workdir.load_config("workdirs/demo")
    config, state = workdir.load_state("workdirs/demo")
    config, generator_variables = workdir.load_generator("workdirs/demo")
    config, settings, encoder_variables, generator_variables = workdir.load_encoders(
        "workdirs/demo")
    workdir.export_run("workdirs/demo", None, None, "demo.msgpack")
"""

import dataclasses
import json
import os

import jax

from mocogan_jax import checkpointing, config as config_lib, export, files, registry
from mocogan_jax.predictors import encoding
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
  abstract = registry.state_shapes(config)
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


def export_run(path: str, checkpoint_dir: str | None, step: int | str | None, out: str) -> str:
  """Writes the generator of a run's checkpoint (the newest, or `step`) to
  `out` (export.write), with a MoCoGAN's discriminators (what `train ...
  init_from=FILE` continues from) and the encoders train-encoder wrote, when
  there are any. -> what was written, in words."""
  config, state = load_state(path, checkpoint_dir, step)
  variables = jax.device_get(registry.get(config).sampling_variables(state))
  encoders, discriminators, what = None, None, "the generator"
  if config.model == "mocogan":
    discriminators = {name: jax.device_get(getattr(state, name).variables)
                      for name in export.DISCRIMINATORS}
    what += ", its discriminators"
  encoder_dir = os.path.join(path, "encoder")
  if checkpointing.existing(encoder_dir)[1] is not None:
    settings, encoder_variables, decoder_variables, _ = encoding.load(encoder_dir, config,
                                                                      variables)
    encoders = {"settings": json.dumps(dataclasses.asdict(settings)),
                "variables": jax.device_get(encoder_variables)}
    if settings.finetune_generator:
      encoders["generator"] = jax.device_get(decoder_variables)
    what += " and its encoders"
  export.write(out, config, variables, encoders, discriminators)
  count = sum(x.size for x in jax.tree.leaves(variables["params"]))
  return f"{what} ({count:,} generator parameters)"


def generator_to_evaluate(path: str | None, checkpoint_dir: str | None, step, params: str | None,
                          untrained: bool = False, floor: bool = False):
  """What `evaluate` measures: a run's checkpoint, its untrained generator, an
  exported file's generator, or no generator (floor: held-out real videos).
  -> (config, generator variables or None, what in words or None, a name for
  the report, the folder for the report and caches)."""
  if untrained and floor:
    raise ConfigError("--untrained and --floor exclude each other")
  if params is not None:  # an exported or imported generator: no workdir to read or write
    if untrained:
      raise ConfigError("--untrained evaluates a workdir's config; with --params the file's "
                        "generator is evaluated")
    config, variables, _ = export.load(params)
    name = "floor" if floor else os.path.splitext(os.path.basename(params))[0]
    return (config, None if floor else variables, None if floor else
            f"the {config.model} generator of {params}", name, "eval")
  config, out_dir = load_config(path), os.path.join(path, "eval")
  if floor:
    return config, None, None, "floor", out_dir
  if untrained:
    state = jax.jit(registry.get(config).create_train_state, static_argnums=0)(
        config, jax.random.key(config.seed))
    return (config, state.generator.variables, f"the untrained {config.model} generator",
            "untrained", out_dir)
  config, state = load_state(path, checkpoint_dir, step)
  step = int(state.step)
  return (config, registry.get(config).sampling_variables(state),
          f"the {config.model} generator at step {step}", f"step{step}", out_dir)

"""Orbax checkpoints of the whole train state, restorable onto any mesh.

Layout: CHECKPOINT_DIR/<step>/{state, meta}; `meta` holds the resolved config.
CHECKPOINT_DIR is WORKDIR/checkpoints unless given; it may be a gs:// bucket
path (what every host of a TPU pod can write to). Saves are asynchronous; orbax writes each step to a temporary folder
and renames it when complete, so a killed save never looks complete.
"""

import json
import os

import jax
import orbax.checkpoint as ocp

from mocogan_jax.config import Config


def directory(workdir: str, checkpoint_dir: str | None = None) -> str:
  if checkpoint_dir:
    return checkpoint_dir if "://" in checkpoint_dir else os.path.abspath(checkpoint_dir)
  return os.path.join(os.path.abspath(workdir), "checkpoints")


def manager(path: str, max_to_keep: int = 3) -> ocp.CheckpointManager:
  return ocp.CheckpointManager(
      path,
      options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
      item_names=("state", "meta"))


def save(mngr: ocp.CheckpointManager, state, config: Config) -> None:
  step = int(jax.device_get(state.step))
  mngr.save(step, args=ocp.args.Composite(
      state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave({"config": config.to_json()})),
      force=True)


def restore_latest(mngr: ocp.CheckpointManager, abstract_state):
  """The newest checkpoint laid out as `abstract_state` says (ShapeDtypeStructs
  carrying the wanted shardings, on any mesh), or None if there is none."""
  step = mngr.latest_step()
  if step is None:
    return None
  restored = mngr.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract_state)))
  return restored["state"]


def saved_config(mngr: ocp.CheckpointManager) -> dict | None:
  """The resolved config stored with the newest checkpoint, or None."""
  step = mngr.latest_step()
  if step is None:
    return None
  meta = mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
  return json.loads(meta["config"])

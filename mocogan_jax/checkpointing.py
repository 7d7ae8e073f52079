"""Orbax checkpoints of the whole train state, restorable onto any mesh.

Layout: CHECKPOINT_DIR/<step>/{state, meta}. `state` is the TrainState (every
parameter, BatchNorm statistic and optimiser moment, and the step), stored as
a dict of its fields without those that are None; `meta` is
the resolved config and the input pipeline's position. CHECKPOINT_DIR is
WORKDIR/checkpoints unless given; it may be a gs:// bucket path (what every
host of a TPU pod can write to).

There is no separate RNG state to save: step i draws its keys from
fold_in(key(seed), i) and its batch from (seed, i) (data/pipeline.py), so the
seed in the config and the step are the whole random and data position.

Saves are asynchronous. Orbax writes each step to a temporary folder and
renames it when complete, so a save cut short by a kill never looks complete;
a checkpoint damaged later is skipped with a warning in favour of the previous.
Readers (`reader`, `existing`) open folders read-only, so sampling or
evaluating beside a training run never changes it; only `train`, which must
write those steps again, moves unreadable checkpoints aside (`set_aside_after`),
and it deletes nothing.
"""

import contextlib
import dataclasses
import errno
import json
import logging
import re
import shutil
import sys

import jax
import orbax.checkpoint as ocp

from mocogan_jax import files, provenance
from mocogan_jax.config import Config
from mocogan_jax.errors import ConfigError


class CheckpointError(RuntimeError):
  """No usable checkpoint where there should be one; the message says where."""


def directory(workdir: str, checkpoint_dir: str | None = None) -> str:
  if checkpoint_dir:
    return files.absolute(checkpoint_dir)
  return f"{files.absolute(workdir)}/checkpoints"


def manager(path: str, keep: int = 3, keep_every: int = 0,
            keep_best: str = "") -> ocp.CheckpointManager:
  """Checkpoints in `path`: each save keeps the newest `keep`; with keep_every
  > 0, every one whose step is a multiple of it; with keep_best (a metric name),
  the one saved with the lowest eval/<keep_best>. GANs often get worse late,
  so a long run keeps its history and its best."""
  from orbax.checkpoint.checkpoint_managers import preservation_policy as policy
  policies = [policy.LatestN(keep)]
  if keep_every:
    policies.append(policy.EveryNSteps(keep_every))
  if keep_best:
    # BestN keeps the last n after sorting; reverse=True sorts high to low.
    policies.append(policy.BestN(get_metric_fn=lambda m: m[f"eval/{keep_best}"], reverse=True,
                                 n=1, keep_checkpoints_without_metrics=False))
  keeping = policies[0] if len(policies) == 1 else policy.AnyPreservationPolicy(policies)
  # cleanup_tmp_directories: the writer removes its own unfinished writes
  # (a save cut short by a kill or a full disk) when it opens the folder.
  return ocp.CheckpointManager(
      path, options=ocp.CheckpointManagerOptions(preservation_policy=keeping, create=True,
                                                 cleanup_tmp_directories=True),
      item_names=("state", "meta"))


def reader(path: str) -> ocp.CheckpointManager:
  """Checkpoints in `path`, opened read-only: nothing is created, cleaned or deleted."""
  return ocp.CheckpointManager(
      path, options=ocp.CheckpointManagerOptions(read_only=True, create=False,
                                                 save_interval_steps=0),
      item_names=("state", "meta"))


def _quiet_orbax(record: logging.LogRecord) -> bool:
  """Drops two kinds of orbax log records that would stand beside a
  command's one-line message: the warning "Given directory is read only" of
  every `reader`, and the error records (with tracebacks, from several
  threads) of a failed background save, which orbax raises again at the
  next save or wait, where `_writing` reports it in one line."""
  if record.getMessage().startswith("Given directory is read only"):
    return False
  return not (record.levelno >= logging.ERROR and "orbax" in record.pathname)


logging.getLogger("absl").addFilter(_quiet_orbax)


def _first_line(error: Exception, limit: int) -> str:
  """The first line of an error's message (its type when it has none), without
  TensorStore's bracketed details (its whole spec, the HTTP body), cut to `limit`."""
  line = (str(error).strip().splitlines() or [type(error).__name__])[0]
  return re.sub(r" \[\w+='.*$", "", line)[:limit]


def _as_saved(state) -> dict:
  """A TrainState as it is stored: its array fields by name, leaving out those
  that are None (the encoders of a run that trains none), so a run written
  before such a field existed still restores, and such runs keep that layout."""
  return {f.name: getattr(state, f.name) for f in dataclasses.fields(state)
          if f.metadata.get("pytree_node", True) and getattr(state, f.name) is not None}


def save(mngr: ocp.CheckpointManager, state, config: Config, evaluation: dict | None = None):
  """evaluation: the metrics of this step's periodic evaluation ({"eval/acd":
  ...}), kept in the checkpoint's meta and given to the keep_best policy.
  Saves run in the background; a failed one (a full disk) surfaces as
  CheckpointError at the next save or at `finish`."""
  step = int(state.step)
  meta = {"config": config.to_json(), "next_batch_step": step,
          "provenance": provenance.record()}
  if evaluation:
    meta["evaluation"] = evaluation
  saved = _as_saved(state)
  with _writing(mngr):
    mngr.wait_until_finished()  # as orbax's save does: the previous save's failure shows here
    mngr.check_for_errors()
    _check_room(str(mngr.directory), saved)
    mngr.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(saved), meta=ocp.args.JsonSave(meta)),
              force=True, metrics=evaluation or None)


def _check_room(folder: str, arrays) -> None:
  """OSError ENOSPC when `folder`'s disk has no room for the pytree `arrays`
  (their bytes, a tenth more and 64 KiB for metadata), before anything is
  written: a write that fails midway leaves tensorstore's callbacks printing
  a traceback per array into orbax's closed event loop. Storage behind a URL
  (gs://) is not checked."""
  if "://" in folder:
    return
  needed = sum(x.nbytes for x in jax.tree.leaves(arrays)) * 1.1 + 64 * 1024
  free = shutil.disk_usage(folder).free
  if free < needed:
    raise OSError(errno.ENOSPC, f"No space left on device: {free / 2**20:.2f} MB free, a "
                  f"checkpoint needs about {needed / 2**20:.2f} MB")


def finish(mngr: ocp.CheckpointManager) -> None:
  """Waits for the last save and closes; CheckpointError if a save failed."""
  with _writing(mngr):
    mngr.wait_until_finished()
  mngr.close()


@contextlib.contextmanager
def _writing(mngr: ocp.CheckpointManager):
  """A failed write (orbax and tensorstore raise OSError, ValueError or
  RuntimeError for a full disk) as one CheckpointError naming the folder."""
  try:
    yield
  except Exception as e:
    raise CheckpointError(f"writing a checkpoint to {mngr.directory} failed "
                          f"({_first_line(e, 300)}); the newest complete checkpoint is "
                          f"intact: mend the cause (room on a disk, access to a bucket) "
                          f"and run the same command to resume") from e


def best_step(mngr: ocp.CheckpointManager, metric: str) -> int | None:
  """The kept step whose saved evaluation has the lowest eval/<metric>, or None."""
  scored = []
  for step in mngr.all_steps():
    evaluation = read_meta(mngr, step).get("evaluation") or {}
    if f"eval/{metric}" in evaluation:
      scored.append((evaluation[f"eval/{metric}"], step))
  return min(scored)[1] if scored else None


def _warn(message: str) -> None:
  print(f"warning: {message}", file=sys.stderr, flush=True)


def restore(mngr: ocp.CheckpointManager, step: int, abstract_state):
  """(state, meta) of checkpoint `step`, the state laid out as `abstract_state`."""
  restored = mngr.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(_as_saved(abstract_state)), meta=ocp.args.JsonRestore()))
  return abstract_state.replace(**restored["state"]), restored["meta"]


def restore_latest(mngr: ocp.CheckpointManager, abstract_state):
  """The newest readable checkpoint laid out as `abstract_state` says
  (ShapeDtypeStructs carrying the wanted shardings, on any mesh), or None if
  there is none. Unreadable newer ones are named in one warning and left as
  they are (they may be a write still in progress); if none is readable,
  CheckpointError says so."""
  damaged, reason = [], ""
  for step in sorted(mngr.all_steps(), reverse=True):
    try:
      state, meta = restore(mngr, step, abstract_state)
    except Exception as e:  # orbax and tensorstore raise many types for damaged files
      reason = reason or _first_line(e, 200)
      damaged.append(step)
      continue
    if meta.get("next_batch_step", step) != int(state.step):
      raise CheckpointError(f"checkpoint {step} in {mngr.directory} is inconsistent: its state "
                            f"is at step {int(state.step)}, its data position at "
                            f"{meta['next_batch_step']}")
    if damaged:
      _warn(f"checkpoint {', '.join(map(str, damaged))} in {mngr.directory} is unreadable "
            f"({reason}); using step {step}")
    return state
  if damaged:
    raise CheckpointError(f"no readable checkpoint in {mngr.directory} (tried "
                          f"{', '.join(map(str, damaged))}: {reason}; the newest was written by "
                          f"{_writer(mngr, damaged[0])}, this is {provenance.written_by()}); "
                          f"move it away to start afresh")
  return None


def _writer(mngr: ocp.CheckpointManager, step: int) -> str:
  """Which version wrote checkpoint `step`, from its metadata where readable."""
  try:
    return provenance.writer_of(read_meta(mngr, step).get("provenance"))
  except Exception:  # the metadata is as unreadable as the rest
    return "an unknown version of mocogan-jax"


def set_aside_after(mngr: ocp.CheckpointManager, step: int) -> None:
  """Moves every checkpoint newer than `step` (the one a run resumed from, so
  the newer ones were unreadable) to DIRECTORY.unreadable/<step>, where it is
  kept for inspection, so that the run can write those steps again."""
  newer = sorted(s for s in mngr.all_steps() if s > step)
  if not newer:
    return
  import jax
  from etils import epath
  from orbax.checkpoint import multihost
  aside = epath.Path(f"{mngr.directory}.unreadable")
  if jax.process_index() == 0:  # one mover; every process then sees the same folder
    aside.mkdir(parents=True, exist_ok=True)
    for bad in newer:
      target = aside / str(bad)
      if target.exists():  # set aside before: keep both
        target = aside / f"{bad}.{len(list(aside.iterdir()))}"
      (epath.Path(mngr.directory) / str(bad)).rename(target)
    _warn(f"moved the unreadable checkpoint(s) {', '.join(map(str, newer))} to {aside}; "
          f"this run writes those steps again")
  multihost.sync_global_processes("mocogan_jax_set_aside")
  mngr.reload()


def saved_config(mngr: ocp.CheckpointManager) -> dict | None:
  """The resolved config stored with the newest checkpoint whose metadata
  reads, or None if there is none."""
  for step in sorted(mngr.all_steps(), reverse=True):
    try:
      meta = mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
      return json.loads(meta["config"])
    except Exception:  # reported by restore_latest, which deals with damaged steps
      continue
  return None


# ---------------------------------------------------------------------------
# Checkpoints of the networks trained around a run (the MCS classifier, the
# encoders, the prediction baseline): a state pytree and a JSON meta per step.
# ---------------------------------------------------------------------------

def save_with_meta(mngr: ocp.CheckpointManager, step: int, state, meta: dict) -> None:
  mngr.save(step, args=ocp.args.Composite(
      state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)), force=True)


def read_meta(mngr: ocp.CheckpointManager, step: int) -> dict:
  return mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]


def read_state(mngr: ocp.CheckpointManager, step: int, target):
  """The state of `step` laid out as `target` (ShapeDtypeStructs with shardings)."""
  try:
    return mngr.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(target)))["state"]
  except ValueError as e:
    if "structure" not in str(e).lower():  # orbax words a layout mismatch a few ways
      raise
    raise CheckpointError(f"checkpoint {step} in {mngr.directory} holds networks of another "
                          f"layout (written by another version of mocogan-jax?); train them "
                          f"again into a new folder") from None


def existing(path: str) -> tuple[ocp.CheckpointManager | None, int | None]:
  """(read-only manager, newest step) of a folder of such checkpoints; (None,
  None) if there is none (the folder is not created)."""
  path = files.absolute(path)
  if not files.exists(path):
    return None, None
  mngr = reader(path)
  return mngr, mngr.latest_step()


def abstract_like(init, sharding):
  """ShapeDtypeStructs of init(key)'s output, all with `sharding`: a restore target."""
  import jax
  abstract = jax.eval_shape(init, jax.random.key(0))
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
                      abstract)


def _fixed(meta: dict) -> dict:
  """What must not change on resume: all of meta but the step budget, nested
  dicts flattened one level ("settings.hidden") so a mismatch names the key."""
  fixed = {}
  for key, value in meta.items():
    if isinstance(value, dict):
      fixed |= {f"{key}.{k}": v for k, v in value.items() if k != "steps"}
    elif key != "steps":
      fixed[key] = value
  return fixed


def resume(mngr: ocp.CheckpointManager, meta: dict, target, what: str):
  """The newest state of a folder of save_with_meta checkpoints laid out as
  `target`, or None if there is none. Every key of `meta` must equal the saved
  one, except "steps" (at the top or one level down), which a resumed run may
  raise; ConfigError names the keys that differ."""
  step = mngr.latest_step()
  if step is None:
    return None
  saved, wanted = _fixed(read_meta(mngr, step)), _fixed(meta)
  changed = [k for k in wanted if saved.get(k) != wanted[k]]
  if changed:
    raise ConfigError(f"{mngr.directory} holds a {what} trained with other settings "
                      f"({', '.join(changed)}); use another --out or delete it")
  print(f"{what}: resuming from step {step}", flush=True)
  return read_state(mngr, step, target)

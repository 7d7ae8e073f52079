"""The training loop: the only place with I/O, clocks, signals and logging.

`_train` reads top to bottom as its phases: set up (checkpoints, devices,
data) -> state (resumed or fresh) and the compiled step -> loop (log, sample,
evaluate, checkpoint) -> finish (the last checkpoint and samples). `_Log` is
where a run reports.
"""

import contextlib
import dataclasses
import functools
import json
import sys
import time

import jax
import numpy as np
from tqdm.auto import tqdm

from mocogan_jax import (checkpointing, export, files, provenance, registry, sharding,
                         small_trainer, video_io, workdir_lock)
from mocogan_jax import config as config_lib
from mocogan_jax.config import Config
from mocogan_jax.errors import ConfigError
from mocogan_jax.data import pipeline


# The losses on the progress line, where a model reports them.
LOSSES_SHOWN = (("G", "loss/generator"), ("D_I", "loss/image_discriminator"),
                ("D_V", "loss/video_discriminator"))


class TrainingError(RuntimeError):
  """Training cannot continue (e.g. a loss became NaN); the message says why."""


# Settings a resumed run may change; anything else would change the model, the
# data or the random streams of a run that already has checkpoints.
RESUMABLE_CHANGES = ("num_steps", "log_every", "sample_every", "checkpoint_every",
                     "keep_checkpoints", "num_samples", "data_dir", "mesh_data", "mesh_fsdp",
                     "nonfinite", "data_workers", "eval_every", "eval_metrics", "eval_num",
                     "eval_length", "keep_best", "lock_timeout")


def _check_resume(config: Config, mngr, where: str) -> None:
  saved = checkpointing.saved_config(mngr)
  if saved is None:
    return
  current = json.loads(config.to_json())
  # A run saved before a setting existed ran with its default.
  saved = json.loads(Config().to_json()) | saved
  changed = sorted(k for k in current if k not in RESUMABLE_CHANGES and saved[k] != current[k])
  if changed:
    k = changed[0]
    raise ConfigError(f"{where} holds a run with {k}={saved[k]!r}, not {current[k]!r}; "
                      f"use a new workdir (a resumed run may change only "
                      f"{', '.join(RESUMABLE_CHANGES)})")


def _summarize(pending: list, last_step: int, config: Config, checkpoints: str) -> dict:
  """Means of the per-step metrics of steps last_step - len(pending) + 1 ..
  last_step. A non-finite loss raises TrainingError naming the first step and
  loss that went bad, unless config.nonfinite == "skip": then skipped steps
  are left out of the means and counted as skipped_steps."""
  if not pending:
    return {}
  host = jax.device_get(pending)
  stacked = {k: np.array([m[k] for m in host]) for k in host[0]}
  first = last_step - len(pending) + 1
  if "skipped" in stacked:
    kept = stacked.pop("skipped") == 0
    means = {k: float(np.mean(v[kept])) for k, v in stacked.items()} if kept.any() else {}
    return {**means, "skipped_steps": int((~kept).sum())}
  for i in range(len(pending)):
    bad = [k for k, v in stacked.items() if k.startswith("loss/") and not np.isfinite(v[i])]
    if bad:
      raise TrainingError(f"non-finite {bad[0]} at step {first + i}; the last checkpoint in "
                          f"{checkpoints} is intact (nonfinite=skip skips such steps)")
  return {k: float(np.mean(v)) for k, v in stacked.items()}


@functools.cache
def _sample_grid(config: Config):
  """The model's sampler compiled once per config: the same key every time,
  so grids are comparable over training."""
  return jax.jit(registry.get(config).sample_videos, static_argnums=(1, 3))


def _run_header(config: Config, mesh, num_videos: int, state) -> str:
  """One line: where the run is, on what, with how much."""
  networks = [(f.name, getattr(state, f.name)) for f in dataclasses.fields(state)]
  parameters = ", ".join(f"{name} {sum(x.size for x in jax.tree.leaves(net.params)):,}"
                         for name, net in networks if hasattr(net, "params"))
  devices = jax.devices()
  return (f"{config.dataset}: {num_videos} videos | {len(devices)} x {devices[0].device_kind} "
          f"in {jax.process_count()} process(es), mesh data={mesh.shape['data']} "
          f"fsdp={mesh.shape['fsdp']} | {config.model} parameters: {parameters} | step "
          f"{int(state.step)} of {config.num_steps}")


def _write_samples(state, config: Config, key, workdir: str, writer) -> str | None:
  """Every process computes the samples (the arrays span all of them); process 0 writes."""
  model, program = registry.get(config), config_lib.program_config(config)
  videos = _sample_grid(program)(model.sampling_variables(state), program, key, config.num_samples)
  if jax.process_index() != 0:
    return None
  grid = video_io.video_grid(video_io.to_uint8(jax.device_get(videos)))
  step = int(state.step)
  path = video_io.write_video(f"{workdir}/samples/step_{step:07d}.gif", grid,
                              scale=max(1, 128 // config.image_size))
  if writer is not None:
    from tensorboardX.proto.summary_pb2 import Summary
    image = Summary.Image(height=grid.shape[1], width=grid.shape[2], colorspace=3,
                          encoded_image_string=video_io.gif_bytes(grid))
    writer._get_file_writer().add_summary(
        Summary(value=[Summary.Value(tag="samples", image=image)]), step)
  return path


def train(config: Config, workdir: str, checkpoint_dir: str | None = None) -> str | None:
  """Trains `config` in `workdir`, resuming from its newest checkpoint.

  Checkpoints go to `checkpoint_dir` (default WORKDIR/checkpoints); with
  several hosts it must be storage they all reach (a gs:// path on a pod).

  Returns the path of the last sample grid (a GIF under workdir/samples/) on
  process 0, None on the other processes of a multi-process run.
  """
  workdir = files.absolute(workdir)
  files.make_folder(workdir, "workdir")
  # One writer per workdir, and nothing written before its lock is held; the
  # processes of one multi-process run share it (process 0 holds it).
  with (workdir_lock.held(workdir, config.lock_timeout) if jax.process_index() == 0
        else contextlib.nullcontext(_NoLock())) as lock:
    return _train(config, workdir, checkpoint_dir, lock)


class _NoLock:
  def check(self) -> None:
    pass

  confirm = check


def _save(mngr, state, config: Config, lock, evaluation: dict | None = None) -> None:
  """A checkpoint, only while this run's lock is still the workdir's."""
  lock.confirm()
  checkpointing.save(mngr, state, config, evaluation)


def _train(config: Config, workdir: str, checkpoint_dir: str | None, lock) -> str | None:
  # --- Set up: checkpoints, devices, data ------------------------------------------
  checkpoints, mngr = _open_checkpoints(config, workdir, checkpoint_dir)
  mesh = sharding.make_mesh(config)
  sharding.check_batch_fits(config, mesh)
  source = pipeline.load_source(config)

  # --- State: resume from the newest checkpoint, or start fresh ------------------
  # Step i's key is fold_in(step_key, i): a resumed run draws what it would have.
  init_key, step_key, sample_key = jax.random.split(jax.random.key(config.seed), 3)
  abstract_state = registry.abstract_train_state(config, mesh)
  state = _restore_or_create(config, mngr, abstract_state, init_key)
  start = int(state.step)
  step_fn = registry.jit_train_step(config, abstract_state, mesh)
  evaluate_generator = _periodic_evaluation(config, workdir)

  # --- Loop ----------------------------------------------------------------------
  log = _Log(config, workdir, checkpoints, start, _run_header(config, mesh, len(source), state))
  batches = pipeline.device_batches(source, config, start, sharding.batch_sharding(mesh))
  sample_path, sampled_step, failed = None, None, True
  try:
    with small_trainer.StopRequest() as stop:
      for step in range(start, config.num_steps):
        state, metrics = step_fn(state, next(batches), jax.random.fold_in(step_key, step))
        done = step + 1
        lock.check()  # taken over: nothing more from this run reaches the workdir
        log.step(metrics, first=step == start)
        stopping = stop.reached(done)
        if done % config.log_every == 0 or done == config.num_steps or stopping:
          log.flush(done)
        if done % config.sample_every == 0 or done == config.num_steps:
          sample_path = _write_samples(state, config, sample_key, workdir, log.writer)
          sampled_step = done
        evaluation = None
        if evaluate_generator and done % config.eval_every == 0:
          evaluation = log.evaluation(done, evaluate_generator, state)
        if (done % config.checkpoint_every == 0 or stopping
            or (config.keep_best and evaluation is not None)):
          log.check_finite(done)  # never save a non-finite state
          _save(mngr, state, config, lock, evaluation)
        if stopping:
          log.write(f"{stop.signal}: saved step {done} to {checkpoints}; run the same command "
                    f"again to resume", every_process=True)
          break
    failed = False
  finally:
    batches.close()
    if failed:  # a save still in the background is a good checkpoint: let it land
      with contextlib.suppress(Exception):
        mngr.wait_until_finished()
    log.close(failed)

  # --- Finish: the last checkpoint and samples -----------------------------------
  if mngr.latest_step() != int(state.step):
    _save(mngr, state, config, lock)
  checkpointing.finish(mngr)
  if sampled_step != int(state.step):  # same decision on every process
    sample_path = _write_samples(state, config, sample_key, workdir, writer=None)
  return sample_path


def _open_checkpoints(config: Config, workdir: str, checkpoint_dir: str | None):
  """-> (the checkpoint folder, its writing manager), after checking that a
  run already there may be resumed with `config`; process 0 records the
  config and provenance in the workdir."""
  checkpoints = checkpointing.directory(workdir, checkpoint_dir)
  mngr = checkpointing.manager(checkpoints, config.keep_checkpoints,
                               config.keep_checkpoint_every, config.keep_best)
  _check_resume(config, mngr, checkpoints)
  if jax.process_index() == 0:
    files.write_text(f"{workdir}/config.json", config.to_json())
    files.write_text(f"{workdir}/provenance.json", json.dumps(provenance.record(), indent=2))
  return checkpoints, mngr


def _restore_or_create(config: Config, mngr, abstract_state, init_key):
  """The newest readable checkpoint (newer unreadable ones set aside), or a
  fresh state (from config.init_from when set), laid out as `abstract_state`."""
  state = checkpointing.restore_latest(mngr, abstract_state)
  if state is not None:
    checkpointing.set_aside_after(mngr, int(state.step))
    return state
  state = registry.jit_create_train_state(config, abstract_state)(init_key)
  if not config.init_from:
    return state
  state, fresh = export.start_from(state, config.init_from, config.init_from_layers)
  if fresh and jax.process_index() == 0:
    print(f"init_from {config.init_from}: {len(fresh)} arrays of other shapes there left as "
          f"initialised: {', '.join(fresh)}", flush=True)
  return state


def _periodic_evaluation(config: Config, workdir: str):
  """generator variables -> {metric: value} every eval_every steps, or None."""
  if not config.eval_every:
    return None
  from mocogan_jax.evaluation import evaluate
  return evaluate.periodic(config, workdir)


class _Log:
  """Where a run reports: the progress bar (or plain lines when not on a
  terminal), metrics.jsonl and TensorBoard, all on process 0. Holds the
  per-step metrics not yet logged and the clock of steps_per_second."""

  def __init__(self, config: Config, workdir: str, checkpoints: str, start: int, header: str):
    self.config, self.checkpoints = config, checkpoints
    self.is_main = jax.process_index() == 0
    self.interactive = sys.stderr.isatty()
    self.writer, self.metrics_log = None, None
    if self.is_main:
      self.writer = files.summary_writer(f"{workdir}/tensorboard")
      # Lines a killed run logged after its last checkpoint go: this run writes them again.
      self.metrics_log = files.MetricsLog(f"{workdir}/metrics.jsonl", start)
    self.progress = tqdm(total=config.num_steps, initial=start, desc="train", unit="step",
                         disable=not (self.is_main and self.interactive), dynamic_ncols=True)
    self.pending, self.last_log = [], time.perf_counter()
    self.write(header)
    if start:
      self.write(f"resuming from step {start} in {checkpoints}")

  def write(self, line: str, every_process: bool = False) -> None:
    if self.is_main or every_process:
      self.progress.write(line)

  def step(self, metrics: dict, first: bool) -> None:
    self.pending.append(metrics)
    if first and self.is_main:
      jax.block_until_ready(metrics)
      self.write(f"first step (compiling included): {time.perf_counter() - self.last_log:.1f} s")
    self.progress.update(1)

  def check_finite(self, done: int) -> None:
    _summarize(self.pending, done, self.config, self.checkpoints)

  def flush(self, done: int) -> None:
    """The means of the pending steps, as one line of each log."""
    means = _summarize(self.pending, done, self.config, self.checkpoints)
    now = time.perf_counter()
    means["steps_per_second"] = len(self.pending) / (now - self.last_log)
    self.pending, self.last_log = [], now
    if not self.is_main:
      return
    self._record(done, means)
    # Absent when every step was skipped; D_I is MoCoGAN's alone.
    losses = " ".join(f"{short} {means[name]:.3f}" for short, name in LOSSES_SHOWN
                      if name in means)
    if losses:
      self.progress.set_postfix_str(losses)
    if not self.interactive:
      self.write(f"step {done}/{self.config.num_steps}  {means['steps_per_second']:.2f} "
                 f"steps/s  {losses}")

  def evaluation(self, done: int, evaluate_generator, state) -> dict:
    began = time.perf_counter()
    values = evaluate_generator(registry.get(self.config).sampling_variables(state))
    self.last_log += time.perf_counter() - began  # steps_per_second counts training only
    if self.is_main:
      self._record(done, values)
      self.write(f"step {done}: " + ", ".join(f"{k} {v:.4g}" for k, v in values.items()))
    return values

  def _record(self, done: int, values: dict) -> None:
    self.metrics_log.write({"step": done, **values})
    for k, v in values.items():
      self.writer.add_scalar(k, v, done)

  def close(self, failed: bool) -> None:
    self.progress.close()
    if self.writer is not None:
      # After a failed write (a full disk, storage lost) that error is the one to report.
      with contextlib.suppress(Exception) if failed else contextlib.nullcontext():
        self.writer.close()

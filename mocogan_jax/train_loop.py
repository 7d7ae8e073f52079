"""The training loop: the only place with I/O, clocks, signals and logging.

Read top to bottom: workdir -> devices -> data -> state (fresh or resumed) ->
compiled step -> loop (log, sample, checkpoint) -> final checkpoint.
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
  model = registry.get(config)
  videos = _sample_grid(config)(model.sampling_variables(state), config, key, config.num_samples)
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
  files.require_writable(workdir, "workdir")
  # One writer per workdir; the processes of one multi-process run share it.
  with (workdir_lock.held(workdir, config.lock_timeout) if jax.process_index() == 0
        else contextlib.nullcontext()):
    return _train(config, workdir, checkpoint_dir)


def _train(config: Config, workdir: str, checkpoint_dir: str | None) -> str | None:
  # --- Workdir -------------------------------------------------------------------
  checkpoints = checkpointing.directory(workdir, checkpoint_dir)
  mngr = checkpointing.manager(checkpoints, config.keep_checkpoints,
                               config.keep_checkpoint_every, config.keep_best)
  _check_resume(config, mngr, checkpoints)
  is_main = jax.process_index() == 0
  if is_main:
    files.write_text(f"{workdir}/config.json", config.to_json())
    files.write_text(f"{workdir}/provenance.json", json.dumps(provenance.record(), indent=2))

  # --- Devices -------------------------------------------------------------------
  mesh = sharding.make_mesh(config)
  sharding.check_batch_fits(config, mesh)
  data_sharding = sharding.batch_sharding(mesh)

  # --- Data ----------------------------------------------------------------------
  source = pipeline.load_source(config)

  # --- State: resume from the newest checkpoint, or start fresh ------------------
  # Step i's key is fold_in(step_key, i): a resumed run draws what it would have.
  init_key, step_key, sample_key = jax.random.split(jax.random.key(config.seed), 3)
  abstract_state = registry.abstract_train_state(config, mesh)
  state = checkpointing.restore_latest(mngr, abstract_state)
  if state is not None:
    checkpointing.set_aside_after(mngr, int(state.step))
  else:
    state = registry.jit_create_train_state(config, abstract_state)(init_key)
    if config.init_from:
      state = export.start_from(state, config.init_from)
  start = int(state.step)
  if is_main and start:
    tqdm.write(f"resuming from step {start} in {checkpoints}")

  # --- Compiled step -------------------------------------------------------------
  step_fn = registry.jit_train_step(config, abstract_state, mesh)

  # --- Evaluation every eval_every steps (FVD etc. of a small N) ------------------
  evaluate_generator = None
  if config.eval_every:
    from mocogan_jax.evaluation import evaluate
    evaluate_generator = evaluate.periodic(config, workdir)

  # --- Loop ----------------------------------------------------------------------
  writer = None
  if is_main:
    from tensorboardX import SummaryWriter
    writer = SummaryWriter(f"{workdir}/tensorboard")
  # Lines a killed run logged after its last checkpoint go: this run writes them again.
  metrics_log = files.MetricsLog(f"{workdir}/metrics.jsonl", start) if is_main else None
  sample_path, sampled_step = None, None
  batches = pipeline.device_batches(source, config, start, data_sharding)
  # A bar on a terminal; under nohup or a scheduler, plain lines at each log.
  interactive = sys.stderr.isatty()
  progress = tqdm(total=config.num_steps, initial=start, disable=not (is_main and interactive),
                  desc="train", unit="step", dynamic_ncols=True)
  if is_main:
    progress.write(_run_header(config, mesh, len(source), state))
  pending, last_log = [], time.perf_counter()  # per-step metrics not yet logged

  def log(done):
    nonlocal pending, last_log
    means = _summarize(pending, done, config, checkpoints)
    now = time.perf_counter()
    means["steps_per_second"] = len(pending) / (now - last_log)
    pending, last_log = [], now
    if is_main:
      metrics_log.write({"step": done, **means})
      for k, v in means.items():
        writer.add_scalar(k, v, done)
      # Absent when every step was skipped; D_I is MoCoGAN's alone.
      losses = " ".join(f"{short} {means[name]:.3f}" for short, name in LOSSES_SHOWN
                        if name in means)
      if losses:
        progress.set_postfix_str(losses)
      if not interactive:
        progress.write(f"step {done}/{config.num_steps}  {means['steps_per_second']:.2f} "
                       f"steps/s  {losses}")

  failed = True
  try:
    with small_trainer.StopRequest() as stop:
      for step in range(start, config.num_steps):
        state, metrics = step_fn(state, next(batches), jax.random.fold_in(step_key, step))
        pending.append(metrics)
        done = step + 1
        if step == start and is_main:
          jax.block_until_ready(metrics)
          progress.write(f"first step (compiling included): {time.perf_counter() - last_log:.1f} s")
        progress.update(1)
        stopping = stop.reached(done)

        if done % config.log_every == 0 or done == config.num_steps or stopping:
          log(done)
        if done % config.sample_every == 0 or done == config.num_steps:
          sample_path = _write_samples(state, config, sample_key, workdir, writer)
          sampled_step = done
        evaluation = None
        if evaluate_generator and done % config.eval_every == 0:
          began = time.perf_counter()
          values = evaluate_generator(registry.get(config).sampling_variables(state))
          last_log += time.perf_counter() - began  # steps_per_second counts training only
          if is_main:
            metrics_log.write({"step": done, **values})
            for k, v in values.items():
              writer.add_scalar(k, v, done)
            progress.write(f"step {done}: " + ", ".join(f"{k} {v:.4g}" for k, v in values.items()))
          evaluation = values
        if (done % config.checkpoint_every == 0 or stopping
            or (config.keep_best and evaluation is not None)):
          _summarize(pending, done, config, checkpoints)  # never save a non-finite state
          checkpointing.save(mngr, state, config, evaluation)
        if stopping:
          progress.write(f"{stop.signal}: saved step {done} to {checkpoints}; run the same "
                         f"command again to resume")
          break
    failed = False
  finally:
    batches.close()
    progress.close()
    if failed:  # a save still in the background is a good checkpoint: let it land
      with contextlib.suppress(Exception):
        mngr.wait_until_finished()
    if writer is not None:
      # After a failed write (a full disk) that error is the one to report.
      with contextlib.suppress(OSError) if failed else contextlib.nullcontext():
        writer.close()

  # --- Final checkpoint ----------------------------------------------------------
  if mngr.latest_step() != int(state.step):
    checkpointing.save(mngr, state, config)
  checkpointing.finish(mngr)
  if sampled_step != int(state.step):  # same decision on every process
    sample_path = _write_samples(state, config, sample_key, workdir, writer=None)
  return sample_path

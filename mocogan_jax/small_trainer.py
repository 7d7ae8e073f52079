"""One loop for the side trainers: train-classifier, train-encoder,
train-baseline, and the models to come. They differ only in their state, their
step and their batches:

    state, meta = small_trainer.fit("encoder", out_dir, config, meta, init, step_fn,
                                    make_batch, steps, batch_size)

The state is replicated over the mesh, the batch split over it; the step is
jitted with the state donated. A run resumes from the newest checkpoint in
out_dir (whose meta must match, but for the step budget), logs mean metrics to
out_dir/metrics.jsonl and TensorBoard every LOG_EVERY steps, checkpoints every
CHECKPOINT_EVERY steps and at the end, and on SIGINT / SIGTERM saves and stops
(run the same command again to resume). `StopRequest` is the main loop's too.
"""

import os
import signal
import sys
import time

import jax
from jax.experimental import multihost_utils
import numpy as np
from tqdm import tqdm

from mocogan_jax import checkpointing, files, sharding
from mocogan_jax.config import Config
from mocogan_jax.errors import ConfigError

LOG_EVERY = 50
CHECKPOINT_EVERY = 500


class Stopped(Exception):
  """A stop signal ended the run after saving it; the message says how to resume."""


def _step_of(state) -> int:
  return int(state["step"] if isinstance(state, dict) else state.step)


class StopRequest:
  """SIGINT / SIGTERM (e.g. preemption) end the loop after the current step.

  With several processes a signal may reach only some of them (one preempted
  host), and a process that stopped alone would leave the others waiting in
  the next collective. So there the stop goes through JAX's preemption
  service, which agrees on a step every process reaches: SIGTERM goes to it
  directly, and SIGINT is passed on to it as a SIGTERM.
  """

  def __init__(self):
    self.signal = None
    self._multi_process = jax.process_count() > 1
    self._previous = {}

  def __enter__(self):
    signals = (signal.SIGINT,) if self._multi_process else (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
      self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signum, frame):
    self.signal = signal.Signals(signum).name
    if self._multi_process:
      os.kill(os.getpid(), signal.SIGTERM)

  def reached(self, step: int) -> bool:
    """Whether to stop after `step`; the same answer on every process."""
    if not self._multi_process:
      return self.signal is not None
    if multihost_utils.reached_preemption_sync_point(step):
      self.signal = self.signal or "a stop signal on one of the processes"
      return True
    return False

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


def fit(what: str, out_dir: str, config: Config, meta: dict, init, step_fn, make_batch,
        steps: int, batch_size: int, key=None, finish=None):
  """Trains (or resumes) `what` to `steps` steps in out_dir.

  init(key) -> state, a pytree with a scalar step (state.step or state["step"]).
  step_fn(state, batch, key) -> (state, metrics of scalars).
  make_batch(step) -> the host batch of that step (arrays of batch_size rows),
    a function of the step so a resumed run sees what an uninterrupted one would.
  key: step i draws with fold_in(key, i) (default: from config.seed).
  finish(state) -> a dict merged into meta before the last save (held-out
    measurements), or None.
  Returns (state, meta); raises Stopped after saving when a signal ended it.
  """
  mesh = sharding.make_mesh(config)
  if batch_size % mesh.size:
    raise ConfigError(f"--batch {batch_size} does not divide over {mesh.size} devices")
  replicated, rows = sharding.replicated(mesh), sharding.batch_sharding(mesh)
  out_dir = files.absolute(out_dir)
  mngr = checkpointing.manager(out_dir, keep=1)
  state = checkpointing.resume(mngr, meta, checkpointing.abstract_like(init, replicated), what)
  if state is None:
    state = jax.jit(init, out_shardings=replicated)(jax.random.key(config.seed))
  jitted = jax.jit(step_fn, in_shardings=(replicated, rows, replicated),
                   out_shardings=(replicated, replicated), donate_argnums=0)
  if key is None:
    key = jax.random.key(config.seed)

  writer = files.summary_writer(f"{out_dir}/tensorboard")
  start = _step_of(state)
  log = files.MetricsLog(f"{out_dir}/metrics.jsonl", keep_through=start)
  interactive = sys.stderr.isatty()
  progress = tqdm(total=steps, initial=start, desc=what, unit="step", disable=not interactive)
  pending, last_log, stopped = [], time.perf_counter(), None
  with StopRequest() as stop:
    for step in range(start, steps):
      batch = jax.device_put(make_batch(step), rows)
      state, metrics = jitted(state, batch, jax.random.fold_in(key, step))
      pending.append(metrics)
      done = step + 1
      progress.update(1)
      stopping = stop.reached(done)
      if done % LOG_EVERY == 0 or done == steps or stopping:
        means = {k: float(np.mean([float(m[k]) for m in pending])) for k in pending[0]}
        now = time.perf_counter()
        means["steps_per_second"] = len(pending) / (now - last_log)
        pending, last_log = [], now
        log.write({"step": done, **means})
        for k, v in means.items():
          writer.add_scalar(k, v, done)
        shown = "  ".join(f"{k} {v:.4g}" for k, v in means.items() if k != "steps_per_second")
        progress.set_postfix_str(shown)
        if not interactive:
          print(f"{what} step {done}/{steps}  {means['steps_per_second']:.2f} steps/s  {shown}",
                file=sys.stderr, flush=True)
      if stopping:
        stopped = stop.signal
        break
      if done % CHECKPOINT_EVERY == 0 and done < steps:
        checkpointing.save_with_meta(mngr, done, state, meta)
  progress.close()
  writer.close()
  if stopped:
    checkpointing.save_with_meta(mngr, _step_of(state), state, meta)
    mngr.wait_until_finished()
    raise Stopped(f"{stopped}: saved the {what} at step {_step_of(state)} to {out_dir}; run "
                  f"the same command again to resume")
  if finish is not None:
    meta = meta | finish(state)
  checkpointing.save_with_meta(mngr, _step_of(state), state, meta)
  mngr.wait_until_finished()
  return state, meta

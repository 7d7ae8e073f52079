"""The side trainers' loop: resume, logs, and a stop signal that saves."""

import json
import os
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mocogan_jax import small_trainer


def _init(key):
  return {"step": jnp.zeros((), jnp.int32), "w": jax.random.normal(key, (3,))}


def _step(state, batch, key):
  """Gradient descent on mean (w - x)^2 over the batch's rows x."""
  loss_fn = lambda w: jnp.mean((w - batch["x"]) ** 2)
  loss, grad = jax.value_and_grad(loss_fn)(state["w"])
  return {"step": state["step"] + 1, "w": state["w"] - 0.1 * grad}, {"loss": loss}


def _batch(step):
  return {"x": np.full((4, 3), 2.0, np.float32)}


def test_fit_logs_resumes_and_saves_on_a_stop_signal(tmp_path, tiny_config, monkeypatch):
  monkeypatch.setattr(small_trainer, "LOG_EVERY", 2)
  out, meta = str(tmp_path / "run"), {"settings": {"lr": 0.1}, "steps": 10}

  def stop_at_5(step):
    if step == 4:  # the signal arrives during step 5: the loop ends after it
      os.kill(os.getpid(), signal.SIGTERM)
    return _batch(step)

  with pytest.raises(small_trainer.Stopped, match="at step 5 .* run the same command again"):
    small_trainer.fit("toy", out, tiny_config, meta, _init, _step, stop_at_5, 10, 4)
  state, saved = small_trainer.fit("toy", out, tiny_config, meta, _init, _step, _batch, 10, 4,
                                   finish=lambda s: {"final_w": float(s["w"][0])})
  assert int(state["step"]) == 10 and saved["final_w"] == pytest.approx(float(state["w"][0]))
  lines = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))]
  assert [l["step"] for l in lines] == [2, 4, 5, 6, 8, 10], lines  # 5: the stop's line
  assert lines[-1]["loss"] < 0.5 * lines[0]["loss"], lines  # it learned, across the resume
  assert os.listdir(os.path.join(out, "tensorboard"))
  # Other settings in the same folder are refused, naming what changed.
  with pytest.raises(Exception, match="settings.lr"):
    small_trainer.fit("toy", out, tiny_config, {"settings": {"lr": 0.2}, "steps": 10}, _init,
                      _step, _batch, 10, 4)

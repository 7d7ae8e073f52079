"""The ConvRNN frame-prediction baseline (models/convrnn.py): its pure train
step, its training loop (`mocogan-jax train-baseline`) and its prediction.

Loss over the T - 1 predicted frames: L1 (or L2) in pixels, plus, weighted by
`difference_weight`, the same loss on frame differences (x_{t+1} - x_t), which
rewards getting the motion right where pixels barely change.
"""

import dataclasses
import functools
import json

import jax
import jax.numpy as jnp
import optax
from flax import struct

from mocogan_jax import checkpointing, small_trainer
from mocogan_jax.config import Config, ConfigError, check_choices, option
from mocogan_jax.data import pipeline
from mocogan_jax.models.convrnn import ConvRNNPredictor
from mocogan_jax.pixels import to_float


@dataclasses.dataclass(frozen=True)
class BaselineSettings:
  context: int = option(4, "real frames read before predicting")
  length: int = option(16, "frames per training clip")
  hidden: int = option(64, "channels of the ConvGRU state")
  loss: str = option("l1", "loss on the predicted frames", ("l1", "l2"))
  difference_weight: float = option(0.0, "weight of the same loss on frame differences "
                                         "(motion)")
  learning_rate: float = option(1e-3, "Adam's learning rate")
  batch: int = option(16, "clips per step")
  steps: int = option(3000, "training steps")

  def check(self) -> "BaselineSettings":
    check_choices(self)
    if not 1 <= self.context < self.length:
      raise ConfigError(f"--context must be in [1, --length), got {self.context} and "
                        f"{self.length}")
    if self.difference_weight < 0 or self.hidden < 1 or self.batch < 1 or self.steps < 1:
      raise ConfigError("--difference_weight must be >= 0; --hidden, --batch, --steps >= 1")
    return self


def _model(config: Config, settings: BaselineSettings) -> ConvRNNPredictor:
  return ConvRNNPredictor(config.ndf, config.channels, settings.hidden, config.conv_impl)


@struct.dataclass
class BaselineState:
  step: jax.Array
  params: dict
  opt_state: optax.OptState
  config: Config = struct.field(pytree_node=False)
  settings: BaselineSettings = struct.field(pytree_node=False)


def create_baseline_state(config: Config, settings: BaselineSettings, key) -> BaselineState:
  s = config.image_size
  model = _model(config, settings)
  params = model.init(key, jnp.zeros((1, settings.length, s, s, config.channels)),
                      settings.context)["params"]
  return BaselineState(jnp.zeros((), jnp.int32), params,
                       optax.adam(settings.learning_rate).init(params), config, settings)


def baseline_train_step(state: BaselineState, batch):
  """batch: {"video": uint8 (B, T, S, S, C)} -> (state, {"loss", "l1"})."""
  settings = state.settings
  model = _model(state.config, settings)
  frames = to_float(batch["video"])
  distance = jnp.abs if settings.loss == "l1" else jnp.square

  def loss_fn(params):
    predicted = model.apply({"params": params}, frames, settings.context)
    loss = jnp.mean(distance(predicted - frames[:, 1:]))
    if settings.difference_weight:
      loss += settings.difference_weight * jnp.mean(distance(
          (predicted - frames[:, :-1]) - (frames[:, 1:] - frames[:, :-1])))
    future = predicted[:, settings.context - 1:] - frames[:, settings.context:]
    return loss, jnp.mean(jnp.abs(future))

  (loss, l1), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  updates, opt_state = optax.adam(settings.learning_rate).update(grads, state.opt_state,
                                                                 state.params)
  return (state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                        opt_state=opt_state),
          {"loss": loss, "l1/future": l1})


def predict(params, config: Config, settings: BaselineSettings, context, length: int):
  """uint8 context (N, K, S, S, C) -> float (N, length, S, S, C): the context
  frames as given, then length - K predicted ones."""
  frames = to_float(context)
  n, k = frames.shape[:2]
  padded = jnp.concatenate([frames, jnp.zeros((n, length - k) + frames.shape[2:])], axis=1)
  predicted = _model(config, settings).apply({"params": params}, padded, k)
  return jnp.concatenate([frames, predicted[:, k - 1:]], axis=1)


def train_baseline(config: Config, out_dir: str, settings: BaselineSettings) -> dict:
  """Trains (or resumes) the baseline on the run's dataset into out_dir."""
  settings.check()
  train, _, _ = pipeline.train_and_held_out(config)
  meta = {"config": json.loads(config.to_json()), "settings": dataclasses.asdict(settings)}

  def make_batch(step):
    videos, _ = pipeline.sample_clips(train, settings.batch, settings.length, config.every_nth,
                                      [config.seed, pipeline.ClipStream.BASELINE, step])
    return {"video": videos}

  _, meta = small_trainer.fit(
      "baseline", out_dir, config, meta, functools.partial(create_baseline_state, config, settings),
      lambda state, batch, key: baseline_train_step(state, batch), make_batch, settings.steps,
      settings.batch)
  return meta


def load(path: str, config: Config):
  """(settings, params) from train-baseline's output."""
  mngr, step = checkpointing.existing(path)
  if step is None:
    raise ConfigError(f"no baseline in {path}; train it with "
                      f"'mocogan-jax train-baseline --workdir RUN'")
  settings = BaselineSettings(**checkpointing.read_meta(mngr, step)["settings"])
  target = checkpointing.abstract_like(
      functools.partial(create_baseline_state, config, settings),
      jax.sharding.SingleDeviceSharding(jax.devices()[0]))
  return settings, checkpointing.read_state(mngr, step, target).params

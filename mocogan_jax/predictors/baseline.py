"""The frame-prediction baselines: their pure train step, their training loop
(`mocogan-jax train-baseline --model convrnn|svg`) and their prediction.

  convrnn  a deterministic ConvGRU encoder-decoder (models/convrnn.py)
  svg      SVG-LP, a VAE with a learnt prior (models/svg.py), stochastic

Loss over the T - 1 predicted frames: L1 (or L2) in pixels, plus, weighted by
`difference_weight`, the same loss on frame differences (x_{t+1} - x_t), which
rewards getting the motion right where pixels barely change. SVG adds
`kl_weight` x KL(posterior || prior), summed over z and time: with `--loss l2`
this is the paper's objective (its beta = kl_weight).
"""

import dataclasses
import functools
import json

import jax
import jax.numpy as jnp
import optax
from flax import struct

from mocogan_jax import checkpointing, small_trainer
from mocogan_jax.config import Config, check_choices, option
from mocogan_jax.errors import ConfigError
from mocogan_jax.data import pipeline
from mocogan_jax.models.convrnn import ConvRNNPredictor
from mocogan_jax.models.svg import SVG
from mocogan_jax.pixels import to_float


MODELS = ("convrnn", "svg")


@dataclasses.dataclass(frozen=True)
class BaselineSettings:
  model: str = option("convrnn", "the predictor", MODELS)
  context: int = option(4, "real frames read before predicting")
  length: int = option(16, "frames per training clip")
  hidden: int = option(64, "channels of the ConvGRU state; svg: the LSTMs' and frame code's "
                           "size")
  latent: int = option(10, "svg: the size of each frame's latent z")
  kl_weight: float = option(1e-4, "svg: the KL term's weight (beta)")
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
    if min(self.difference_weight, self.kl_weight) < 0:
      raise ConfigError("--difference_weight and --kl_weight must be >= 0")
    if min(self.hidden, self.latent, self.batch, self.steps) < 1:
      raise ConfigError("--hidden, --latent, --batch and --steps must be >= 1")
    return self


def _model(config: Config, settings: BaselineSettings):
  if settings.model == "svg":
    return SVG(config.ndf, config.channels, settings.hidden, settings.latent, config.conv_impl)
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
  params = model.init({"params": key, "latent": key},
                      jnp.zeros((1, settings.length, s, s, config.channels)),
                      settings.context)["params"]
  return BaselineState(jnp.zeros((), jnp.int32), params,
                       optax.adam(settings.learning_rate).init(params), config, settings)


def frame_loss(predicted, frames, settings: BaselineSettings):
  """predicted (B, T-1, S, S, C) frames 1..T-1 of frames (B, T, S, S, C) ->
  the mean L1 (or L2) in pixels, plus difference_weight x the same on frame
  differences."""
  distance = jnp.abs if settings.loss == "l1" else jnp.square
  loss = jnp.mean(distance(predicted - frames[:, 1:]))
  if settings.difference_weight:
    loss += settings.difference_weight * jnp.mean(distance(
        (predicted - frames[:, :-1]) - (frames[:, 1:] - frames[:, :-1])))
  return loss


def baseline_train_step(state: BaselineState, batch, key):
  """batch: {"video": uint8 (B, T, S, S, C)}; key: SVG's latent noise ->
  (state, {"loss", "l1/future"} and, for svg, "kl")."""
  settings = state.settings
  model = _model(state.config, settings)
  frames = to_float(batch["video"])

  def loss_fn(params):
    metrics = {}
    if settings.model == "svg":
      predicted, kl = model.apply({"params": params}, frames, settings.context,
                                  rngs={"latent": key})
      metrics["kl"] = kl.sum(1).mean()
    else:
      predicted = model.apply({"params": params}, frames, settings.context)
    loss = frame_loss(predicted, frames, settings) + settings.kl_weight * metrics.get("kl", 0.0)
    future = predicted[:, settings.context - 1:] - frames[:, settings.context:]
    return loss, metrics | {"loss": loss, "l1/future": jnp.mean(jnp.abs(future))}

  (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  updates, opt_state = optax.adam(settings.learning_rate).update(grads, state.opt_state,
                                                                 state.params)
  return (state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                        opt_state=opt_state), metrics)


def predict(params, config: Config, settings: BaselineSettings, context, length: int, key,
            noise: str = "sample"):
  """uint8 context (N, K, S, S, C) -> float (N, length, S, S, C): the context
  frames as given, then length - K predicted ones. SVG draws each z_t from its
  prior with `key` (noise "sample") or takes the prior's mean ("mean"); the
  ConvRNN reads neither."""
  frames = to_float(context)
  if settings.model == "svg":
    return _model(config, settings).apply({"params": params}, frames, length, noise == "mean",
                                          method="generate", rngs={"latent": key})
  n, k = frames.shape[:2]
  padded = jnp.concatenate([frames, jnp.zeros((n, length - k) + frames.shape[2:])], axis=1)
  predicted = _model(config, settings).apply({"params": params}, padded, k)
  return jnp.concatenate([frames, jnp.clip(predicted[:, k - 1:], -1.0, 1.0)], axis=1)


def train_baseline(config: Config, out_dir: str, settings: BaselineSettings) -> dict:
  """Trains (or resumes) the baseline on the run's dataset into out_dir."""
  settings.check()
  train, _, _ = pipeline.train_and_held_out(config)
  meta = {"config": json.loads(config.to_json()), "settings": dataclasses.asdict(settings)}

  def make_batch(step):
    videos, _ = pipeline.sample_clips(train, settings.batch, settings.length, config.every_nth,
                                      [config.seed, pipeline.ClipStream.BASELINE, step])
    return {"video": videos}

  init = functools.partial(create_baseline_state, config, settings)
  _, meta = small_trainer.fit(settings.model, out_dir, config, meta, init, baseline_train_step,
                              make_batch, settings.steps, settings.batch)
  return meta


def load(path: str, config: Config, model: str):
  """(settings, params) of the `model` baseline train-baseline wrote to path."""
  mngr, step = checkpointing.existing(path)
  if step is None:
    raise ConfigError(f"no {model} baseline in {path}; train it with "
                      f"'mocogan-jax train-baseline --workdir RUN --model {model}'")
  settings = BaselineSettings(**checkpointing.read_meta(mngr, step)["settings"])
  if settings.model != model:
    raise ConfigError(f"{path} holds a {settings.model} baseline, not {model}")
  target = checkpointing.abstract_like(
      functools.partial(create_baseline_state, config, settings),
      jax.sharding.SingleDeviceSharding(jax.devices()[0]))
  return settings, checkpointing.read_state(mngr, step, target).params

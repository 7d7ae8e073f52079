"""The spatio-temporal video classifier behind MCS and the Inception Score.

The MoCoGAN paper's Motion Control Score is the accuracy, on videos generated
for a given category, of a classifier trained on the labelled real videos. The
paper did not publish its classifier, so the project trains its own:

    mocogan-jax train-classifier --workdir workdirs/demo16

reads the run's config (dataset, label_key, image size, every_nth), trains on
clips of --length frames of the train split and writes an orbax checkpoint to
WORKDIR/classifier with its settings and its accuracy on held-out real clips
(the test split, or every 10th training video where there is none). Every MCS
is reported beside that accuracy: MCS cannot be trusted beyond it.

Network: Conv3d(k4, stride (1, 2, 2), time padding 1) blocks, width doubling
from `width` (capped at 8x), BatchNorm after the first, LeakyReLU 0.2, down to
4x4; then the mean over time and space and a linear layer to the classes.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn

from mocogan_jax import checkpointing, sharding, small_trainer
from mocogan_jax.config import Config, option
from mocogan_jax.errors import ConfigError
from mocogan_jax.data import pipeline
from mocogan_jax.models.layers import Conv3d, batch_norm
from mocogan_jax.pixels import to_float

HELD_OUT_CLIPS = 1024
LEARNING_RATE = 1e-3


class VideoClassifier(nn.Module):
  """videos uint8 (N, T, S, S, C) -> class logits (N, K)."""
  num_classes: int
  width: int = 16
  impl: str = "auto"

  @nn.compact
  def __call__(self, videos, train: bool):
    x = to_float(jnp.asarray(videos))
    size, block = x.shape[2], 0
    while size > 4:
      x = Conv3d(self.width * min(2 ** block, 8), 4, 2, 1, 1, self.impl)(x)  # T -> T - 1
      if block:
        x = batch_norm(train)(x)
      x = nn.leaky_relu(x, 0.2)
      size, block = size // 2, block + 1
    return nn.Dense(self.num_classes)(x.mean(axis=(1, 2, 3)))


def blocks(image_size: int) -> int:
  return max(0, int(np.log2(image_size)) - 2)


def probabilities(model: VideoClassifier, variables, videos):
  """(N, T, S, S, C) uint8 -> (N, K) softmax probabilities, inference mode."""
  return jax.nn.softmax(model.apply(variables, videos, train=False), axis=-1)


def _loss(params, batch_stats, model, videos, labels):
  logits, updates = model.apply({"params": params, "batch_stats": batch_stats}, videos,
                                train=True, mutable=["batch_stats"])
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
  return loss, (updates["batch_stats"], jnp.mean(jnp.argmax(logits, -1) == labels))


def train_step(state: dict, videos, labels, *, model: VideoClassifier, optimizer):
  """One Adam step on cross-entropy. state: {"step", "params", "batch_stats",
  "opt_state"}; videos uint8 (B, T, S, S, C); labels int32 (B,)."""
  (loss, (batch_stats, acc)), grads = jax.value_and_grad(_loss, has_aux=True)(
      state["params"], state["batch_stats"], model, videos, labels)
  updates, opt_state = optimizer.update(grads, state["opt_state"], state["params"])
  return ({"step": state["step"] + 1, "params": optax.apply_updates(state["params"], updates),
           "batch_stats": batch_stats, "opt_state": opt_state},
          {"loss": loss, "accuracy": acc})


@dataclasses.dataclass(frozen=True)
class ClassifierSettings:
  length: int = option(16, "frames per clip (16, as FVD)")
  steps: int = option(1000, "training steps")
  batch: int = option(16, "clips per step")
  width: int = option(16, "channels of the first convolution")

  def check(self, image_size: int) -> "ClassifierSettings":
    if self.length <= blocks(image_size):
      raise ConfigError(f"--length {self.length} is too short for the classifier at "
                        f"{image_size}x{image_size} (needs > {blocks(image_size)})")
    for name in ("steps", "batch", "width"):
      if getattr(self, name) < 1:
        raise ConfigError(f"--{name} must be >= 1, got {getattr(self, name)}")
    return self


def identity(config: Config, settings: ClassifierSettings) -> dict:
  """What a classifier is a function of; stored with it and checked on resume
  and against the videos it is asked to classify."""
  return {"dataset": config.dataset, "label_key": config.label_key,
          "image_size": config.image_size, "channels": config.channels,
          "every_nth": config.every_nth, "seed": config.seed, **dataclasses.asdict(settings)}


def train_classifier(config: Config, out_dir: str, settings: ClassifierSettings) -> dict:
  """Trains (or resumes) the classifier of `config`'s dataset and labels into
  out_dir; returns its metadata, held-out accuracy included."""
  settings.check(config.image_size)
  length, batch, width = settings.length, settings.batch, settings.width
  train, held_out, held_out_name = pipeline.train_and_held_out(config)
  num_classes = pipeline.num_classes(train, config.label_key)
  if not num_classes:
    raise ConfigError(f"{config.dataset!r} has no {config.label_key!r} labels; the MCS and "
                      f"IS classifier needs a labelled dataset")
  meta = identity(config, settings) | {"num_classes": num_classes}
  model, optimizer = VideoClassifier(num_classes, width, config.conv_impl), _optimizer()
  step_fn = functools.partial(train_step, model=model, optimizer=optimizer)

  def make_batch(step):
    return pipeline.sample_clips(train, batch, length, config.every_nth,
                                 [config.seed, pipeline.ClipStream.CLASSIFIER, step],
                                 config.label_key)

  def held_out_accuracy(state):
    # The clips `evaluate --floor --num 1024 --seed SEED` reads, so that its MCS
    # equals this number.
    variables = {"params": state["params"], "batch_stats": state["batch_stats"]}
    videos, labels = pipeline.sample_clips(held_out, HELD_OUT_CLIPS, length, config.every_nth,
                                           [config.seed, pipeline.ClipStream.CLASSIFIER],
                                           config.label_key)
    predict = sharding.Batched(functools.partial(probabilities, model), variables,
                               sharding.make_mesh(config), 64)
    return {"held_out": held_out_name, "held_out_clips": HELD_OUT_CLIPS,
            "held_out_accuracy": float(np.mean(predict(videos).argmax(-1) == labels))}

  _, meta = small_trainer.fit(
      "classifier", out_dir, config, meta, functools.partial(_init, model, optimizer, meta),
      lambda state, batch, key: step_fn(state, *batch), make_batch, settings.steps, batch,
      finish=held_out_accuracy)
  return meta


def _optimizer():
  return optax.adam(LEARNING_RATE)


def _init(model, optimizer, meta, key):
  s = meta["image_size"]
  variables = model.init(key, jnp.zeros((1, meta["length"], s, s, meta["channels"]), jnp.uint8),
                         train=False)
  return {"step": jnp.zeros((), jnp.int32), "params": variables["params"],
          "batch_stats": variables["batch_stats"],
          "opt_state": optimizer.init(variables["params"])}


def _abstract_state(meta, sharding):
  model = VideoClassifier(meta["num_classes"], meta["width"])
  return checkpointing.abstract_like(functools.partial(_init, model, _optimizer(), meta),
                                     sharding)


def load(path: str):
  """(model, variables, meta) of the classifier in `path` (train-classifier's output)."""
  mngr, step = checkpointing.existing(path)
  if step is None:
    raise ConfigError(f"no classifier in {path}; train one with "
                      f"'mocogan-jax train-classifier --workdir RUN'")
  meta = checkpointing.read_meta(mngr, step)
  if "held_out_accuracy" not in meta:
    raise ConfigError(f"the classifier in {path} did not finish training (step {step} of "
                      f"{meta['steps']}); run train-classifier again to finish it")
  model = VideoClassifier(meta["num_classes"], meta["width"])
  state = checkpointing.read_state(
      mngr, step, _abstract_state(meta, jax.sharding.SingleDeviceSharding(jax.devices()[0])))
  return model, {"params": state["params"], "batch_stats": state["batch_stats"]}, meta

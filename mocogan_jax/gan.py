"""What every model's train step shares: a network's state, named random
streams, the generator's moving average, the non-finite guard, and the train
state of a GAN with one (video) discriminator (VGAN, TGAN).

MoCoGAN's own state, with its two discriminators, is models/mocogan.TrainState.
"""

import zlib
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from mocogan_jax.config import Config

from mocogan_jax.errors import ConfigError
from mocogan_jax.sharding import gather_for_use


@struct.dataclass
class NetworkState:
  """One network: params, BatchNorm running statistics, optimiser state."""
  params: Any
  batch_stats: Any
  opt_state: Any

  @property
  def variables(self):
    return {"params": self.params, "batch_stats": self.batch_stats}


def adam(config: Config) -> optax.GradientTransformation:
  """torch.optim.Adam(lr, betas, weight_decay): the L2 term joins the gradient
  before the moments, unlike AdamW."""
  return optax.chain(
      optax.add_decayed_weights(config.weight_decay),
      optax.scale_by_adam(b1=config.adam_b1, b2=config.adam_b2, eps=1e-8),
      optax.scale(-config.learning_rate),
  )


def init_network(module, key, x, tx: optax.GradientTransformation, **kwargs) -> NetworkState:
  """module.init on example input x (inference mode) and the optimiser's state."""
  variables = module.init({"params": key, "noise": key}, x, train=False, **kwargs)
  params = variables["params"]
  return NetworkState(params, variables.get("batch_stats", {}), tx.init(params))


def apply_gradients(net: NetworkState, grads, batch_stats, tx) -> NetworkState:
  updates, opt_state = tx.update(grads, net.opt_state, net.params)
  return NetworkState(optax.apply_updates(net.params, updates), batch_stats, opt_state)


def for_use(variables):
  """{"params", "batch_stats"} with fsdp-split parameters gathered for a forward pass."""
  return {"params": gather_for_use(variables["params"]), "batch_stats": variables["batch_stats"]}


def stream(key, name: str):
  """The random stream `name` of `key`: fold_in(key, crc32(name)). Each draw of
  a step takes its own named stream, so adding a draw never shifts the others."""
  return jax.random.fold_in(key, zlib.crc32(name.encode()))


def update_ema(ema, generator: NetworkState, step, decay: float):
  """ema <- d * ema + (1 - d) * generator's variables, d = min(decay, (1 + step)
  / (10 + step)): the warm-up keeps the average from holding on to the random
  initial weights for thousands of steps. The BatchNorm running statistics are
  averaged too, so the averaged weights meet averaged statistics."""
  d = jnp.minimum(decay, (1.0 + step) / (10.0 + step)).astype(jnp.float32)
  return jax.tree.map(lambda e, x: d * e + (1.0 - d) * x, ema, generator.variables)


def keep_if_nonfinite(new_state, state, metrics: dict, config: Config):
  """With config.nonfinite == "skip": a step whose losses are not all finite
  leaves the networks as they were (the step counter still advances) and
  reports metrics["skipped"] = 1. -> (state, metrics)."""
  if config.nonfinite != "skip":
    return new_state, metrics
  finite = jnp.all(jnp.isfinite(jnp.stack(
      [v for k, v in metrics.items() if k.startswith("loss/")])))
  kept = jax.tree.map(lambda new, old: jnp.where(finite, new, old), new_state, state)
  return kept.replace(step=new_state.step), metrics | {
      "skipped": 1.0 - finite.astype(jnp.float32)}


@struct.dataclass
class VideoGanState:
  """The train state of a GAN with one video discriminator.

  step: int32 scalar, completed iterations.
  generator, discriminator: `NetworkState`s.
  config: static; selects the networks and the compiled program.
  generator_ema: with config.ema_decay > 0, the moving average of the
    generator's {"params", "batch_stats"} (`update_ema`), which samples,
    evaluation and export use; else None.
  """
  step: jax.Array
  generator: NetworkState
  discriminator: NetworkState
  config: Config = struct.field(pytree_node=False)
  generator_ema: Any = None


def create_video_gan_state(config: Config, key, generator, discriminator,
                           tx: optax.GradientTransformation) -> VideoGanState:
  """Both networks from one key: the generator on a (1, dim_z_content) latent,
  the discriminator on a (1, T, S, S, C) clip; the same optimiser for both."""
  k_g, k_d = jax.random.split(key)
  s, c, t = config.image_size, config.channels, config.video_length
  g = init_network(generator, k_g, jnp.zeros((1, config.dim_z_content)), tx)
  return VideoGanState(
      step=jnp.zeros((), jnp.int32), generator=g,
      discriminator=init_network(discriminator, k_d, jnp.zeros((1, t, s, s, c)), tx),
      config=config, generator_ema=g.variables if config.ema_decay else None)


def video_gan_info(config: Config, create_train_state, train_step) -> dict:
  """What `info` shows of any VideoGanState model, without running anything."""
  state = jax.eval_shape(lambda key: create_train_state(config, key), jax.random.key(0))
  return {
      "parameters": {"generator": count_parameters(state.generator.params),
                     "discriminator": count_parameters(state.discriminator.params)},
      "video_shape": [config.video_length, config.image_size, config.image_size, config.channels],
      "flops_per_step": flops_per_step(train_step, state, config),
  }


def sampling_variables(state):
  """The generator's {"params", "batch_stats"} to sample, evaluate and export
  with: the moving average when the run keeps one, else the trained weights."""
  if state.generator_ema is not None:
    return state.generator_ema
  return state.generator.variables


def finish_step(state, generator: NetworkState, discriminator: NetworkState, metrics: dict):
  """The VideoGanState after one step: counter, moving average, non-finite guard."""
  config, ema = state.config, state.generator_ema
  if ema is not None:
    ema = update_ema(ema, generator, state.step, config.ema_decay)
  new_state = state.replace(step=state.step + 1, generator=generator,
                            discriminator=discriminator, generator_ema=ema)
  return keep_if_nonfinite(new_state, state, metrics, config)


# The settings only MoCoGAN reads, at the values that mean "off": a model
# without them refuses anything else, so that no setting is silently ignored.
MOCOGAN_ONLY = {"n_categories": 0, "use_categories": False, "use_infogan": False,
                "encoder_weight": 0.0, "r1_gamma": 0.0, "r1_on": "both", "tv_weight": 0.0,
                "attention_resolution": 0,
                "content_modulation": False, "output_blur": False, "output_upsample": "transpose",
                "noise_sigma": 0.0, "image_discriminator_norm": "", "video_loss_weight": 1.0}


def unconditional_problems(config: Config, frames_per_step: int) -> list[str]:
  """The checks of an unconditional, fixed-length model (VGAN, TGAN): no
  MoCoGAN-only setting, and video_length (and eval_length, when evaluating)
  a multiple of `frames_per_step`, the frames its networks halve to one."""
  found = [f"model={config.model} has no {field}; set {field}={off} (got "
           f"{getattr(config, field)!r})"
           for field, off in MOCOGAN_ONLY.items() if getattr(config, field) != off]
  if config.video_length % max(frames_per_step, 1):
    found.append(f"model={config.model} at image_size={config.image_size} needs "
                 f"video_length a multiple of {frames_per_step}, got {config.video_length}")
  if config.eval_every and config.eval_length != config.video_length:
    found.append(f"model={config.model} generates video_length={config.video_length} "
                 f"frames; set eval_length={config.video_length}")
  return found


def sample_fixed_length(generator, latents, generator_variables, config: Config,
                        length: int | None, category):
  """An unconditional, fixed-length model's sampler (VGAN, TGAN): its
  generator in inference mode on `latents`, or a ConfigError for a length
  other than video_length or a category. -> (N, T, S, S, C) in [-1, 1]."""
  if category is not None:
    raise ConfigError(f"model={config.model} is unconditional: it takes no category")
  if length not in (None, config.video_length):
    raise ConfigError(f"model={config.model} generates exactly video_length="
                      f"{config.video_length} frames, not {length}")
  return generator.apply(generator_variables, latents, train=False)


def count_parameters(tree) -> int:
  return int(sum(x.size for x in jax.tree.leaves(tree)))


def batch_shapes(config: Config, sharding=None) -> dict:
  """The global batch every train step takes (data/pipeline.make_batch), as
  ShapeDtypeStructs, each laid out by `sharding` when given."""
  s, c, t = config.image_size, config.channels, config.video_length
  shapes = {"video": ((config.video_batch, t, s, s, c), jnp.uint8),
            "label": ((config.video_batch,), jnp.int32),
            "image": ((config.image_batch, s, s, c), jnp.uint8)}
  return {k: jax.ShapeDtypeStruct(shape, dtype, sharding=sharding)
          for k, (shape, dtype) in shapes.items()}


def flops_per_step(train_step, state, config: Config) -> float:
  """XLA's cost analysis of the compiled step on the config's batch shapes."""
  cost = jax.jit(train_step).lower(state, batch_shapes(config),
                                   jax.random.key(0)).cost_analysis() or {}
  return float(cost.get("flops", float("nan")))

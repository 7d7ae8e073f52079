"""Conditional MoCoGAN, the future from the past (`model=conditional`), trained
ST-GAN-style: adversarial + content + optical-flow motion losses.

    state = create_train_state(config, key)
    state, metrics = train_step(state, batch, key)
    videos = encoding.predict(sampling_variables(state), state.encoder.variables, config,
                              "average", context, length, key)

The generator is MoCoGAN's, conditioned on the first K = context_frames
frames of a clip through the encoders (models/encoders.py, trained with it):
the context's content code and category are held, and the motion RNN runs on
from the motion state h_K with fresh noise for the T - K future frames. Each
step, on real clips (B, T, S, S, C) split into context and true future:
- D_I: real frames against the predicted frames;
- D_V: real clips against [context | predicted] (and, with use_categories,
  the real clips' categories);
- G and the encoders: adversarial_weight * (D_I's + video_loss_weight * D_V's
  non-saturating terms) + content_loss_weight * L1(predicted, true future)
  + motion_loss_weight * mean |flow(predicted) - flow(true)| over consecutive
  frames, the last context frame included (flow.optical_flow).
The state is MoCoGAN's TrainState with its encoder always there; sample grids
and evaluation draw from the generator unconditionally, `predict --model
conditional` continues clips.
"""

import jax
import jax.numpy as jnp

from mocogan_jax import flow, gan, losses
from mocogan_jax.config import Config
from mocogan_jax.models import mocogan
from mocogan_jax.pixels import to_float
from mocogan_jax.sharding import split_over_batch

# The flow estimator inside the loss: two pyramid levels (displacements up to
# about 2 px per frame, shape_motion's speeds at 32x32) and 30 Jacobi
# iterations each, a quarter of optical_flow's default work: the loss needs
# the flow's direction and size, not its last tenth of a pixel.
FLOW_LEVELS, FLOW_ITERATIONS = 2, 30


def config_problems(config: Config) -> list[str]:
  found = mocogan.config_problems(config)
  if not 1 <= config.context_frames < config.video_length:
    found.append(f"context_frames must be in [1, video_length={config.video_length}), got "
                 f"{config.context_frames}")
  weights = ("adversarial_weight", "content_loss_weight", "motion_loss_weight")
  if any(not getattr(config, w) >= 0 for w in weights) or not any(
      getattr(config, w) for w in weights):
    found.append(f"{', '.join(weights)} must be >= 0 and not all 0")
  if config.encoder_weight:
    found.append("model=conditional trains its encoders on the prediction losses; set "
                 "encoder_weight=0")
  if config.tv_weight:
    found.append("model=conditional fits its frames to the true ones, not to the data's "
                 "total variation; set tv_weight=0")
  return found


def create_train_state(config: Config, key) -> mocogan.TrainState:
  """MoCoGAN's state, with the encoders that read the context."""
  s, c, t = config.image_size, config.channels, config.video_length
  encoder = gan.init_network(mocogan.encoder(config), jax.random.fold_in(key, 4),
                             jnp.zeros((1, t, s, s, c)), mocogan.optimizer(config))
  return mocogan.create_train_state(config, key).replace(encoder=encoder)


def _predict(config: Config, generator_variables, encoder_variables, context, key):
  """context (B, K, S, S, C) in [-1, 1] -> (future (B, T - K, S, S, C), the
  generator's and the encoder's updated batch_stats), both in training mode."""
  codes, e_updated = mocogan.encoder(config).apply(gan.for_use(encoder_variables), context,
                                                   train=True, mutable=["batch_stats"])
  b, k = context.shape[:2]
  generator, variables = mocogan.generator(config), gan.for_use(generator_variables)
  eps = split_over_batch(jax.random.normal(key, (b, config.video_length - k,
                                                 config.dim_z_motion)))
  motion = generator.apply(variables, codes["motion"][:, -1], eps, method="continue_motion")
  future, g_updated = generator.apply(variables, codes["content"], codes["category"], motion,
                                      train=True, method="decode", mutable=["batch_stats"])
  return future, g_updated["batch_stats"], e_updated["batch_stats"]


def _flows(frames):
  """(B, F, S, S, C) -> the flow between each frame and the next, (B, F - 1, S, S, 2)."""
  b, f = frames.shape[:2]
  pairs = lambda x: x.reshape((b * (f - 1),) + frames.shape[2:])
  estimated = flow.optical_flow(pairs(frames[:, :-1]), pairs(frames[:, 1:]), FLOW_LEVELS,
                                FLOW_ITERATIONS)
  return estimated.reshape((b, f - 1) + estimated.shape[1:])


def content_loss(predicted, truth):
  """Mean L1 distance between predicted and true future frames, in [-1, 1] units."""
  return jnp.mean(jnp.abs(predicted - truth))


def motion_loss(predicted, truth, last_context):
  """Mean L1 distance in pixels between the optical flow of the predicted
  frames and of the true ones (B, F, S, S, C), each preceded by the last
  context frame (B, S, S, C). The true flow is a target: no gradient."""
  with_context = lambda x: jnp.concatenate([last_context[:, None], x], axis=1)
  return jnp.mean(jnp.abs(_flows(with_context(predicted))
                          - jax.lax.stop_gradient(_flows(with_context(truth)))))


def train_step(state: mocogan.TrainState, batch, key):
  """One iteration: D_I, D_V, then the generator and the encoders.

  batch: {"video": uint8 (B, T, S, S, C), "label": int32 (B,), "image": uint8
  (Bi, S, S, C)}, as mocogan.train_step. Returns (new_state, metrics).
  """
  config = state.config
  nets = mocogan.networks(config)
  real, real_images = to_float(batch["video"]), to_float(batch["image"])
  k = config.context_frames
  context, truth = real[:, :k], real[:, k:]
  frames = lambda videos: videos.reshape((-1,) + videos.shape[2:])
  g, e = state.generator, state.encoder

  future, g_stats, e_stats = _predict(config, g.variables, e.variables, context,
                                      gan.stream(key, "fakes"))
  future = jax.lax.stop_gradient(future)
  di, loss_di, _, _, _ = mocogan.discriminator_update(
      nets.image_discriminator, state.image_discriminator, real_images, frames(future), config,
      gan.stream(key, "image_discriminator"), mocogan.r1_weight(config, "image"))
  category_loss = ((lambda logits: losses.category_ce(logits, batch["label"]))
                   if config.use_categories else None)
  dv, loss_dv, category, _, _ = mocogan.discriminator_update(
      nets.video_discriminator, state.video_discriminator, real,
      jnp.concatenate([context, future], axis=1), config, gan.stream(key, "video_discriminator"),
      mocogan.r1_weight(config, "video"), category_loss)

  def loss_fn(g_params, e_params):
    future, g_new, e_new = _predict(config, {"params": g_params, "batch_stats": g_stats},
                                    {"params": e_params, "batch_stats": e_stats}, context,
                                    gan.stream(key, "prediction"))
    image_logits, _, di_stats = mocogan.discriminate(
        nets.image_discriminator, di.variables, frames(future), gan.stream(key, "noise/image"))
    video_logits, _, dv_stats = mocogan.discriminate(
        nets.video_discriminator, dv.variables, jnp.concatenate([context, future], axis=1),
        gan.stream(key, "noise/video"))
    terms = {
        "loss/adversarial": (losses.generator_loss(image_logits)
                             + config.video_loss_weight * losses.generator_loss(video_logits)),
        "loss/content": content_loss(future, truth),
        "loss/motion": (motion_loss(future, truth, context[:, -1]) if config.motion_loss_weight
                        else jnp.zeros(())),
    }
    loss = (config.adversarial_weight * terms["loss/adversarial"]
            + config.content_loss_weight * terms["loss/content"]
            + config.motion_loss_weight * terms["loss/motion"])
    return loss, (g_new, e_new, di_stats, dv_stats, terms)

  (loss_g, (g_stats, e_stats, di_stats, dv_stats, terms)), grads = jax.value_and_grad(
      loss_fn, argnums=(0, 1), has_aux=True)(g.params, e.params)
  tx = mocogan.optimizer(config)
  g = gan.apply_gradients(g, grads[0], g_stats, tx)
  ema = state.generator_ema
  if ema is not None:
    ema = gan.update_ema(ema, g, state.step, config.ema_decay)
  new_state = state.replace(
      step=state.step + 1, generator=g, encoder=gan.apply_gradients(e, grads[1], e_stats, tx),
      generator_ema=ema, image_discriminator=di.replace(batch_stats=di_stats),
      video_discriminator=dv.replace(batch_stats=dv_stats))
  metrics = {"loss/generator": loss_g, "loss/image_discriminator": loss_di,
             "loss/video_discriminator": loss_dv, "loss/video_category": category, **terms}
  return gan.keep_if_nonfinite(new_state, state, metrics, config)


sample_videos = mocogan.sample_videos  # unconditional draws of the same generator


def model_info(config: Config) -> dict:
  info = mocogan.model_info(config, create_train_state, train_step)
  return info | {"latent": info["latent"] + f"; conditioned on {config.context_frames} frames"}

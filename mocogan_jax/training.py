"""The train state and the pure MoCoGAN training step. No I/O, no clock.

    state = create_train_state(config, key)
    state, metrics = train_step(state, batch, key)

The whole state is one pytree (`TrainState`) whose only static part is the
config; `train_step` is pure, so it can be `jax.jit`-ed with the state donated,
given shardings, or called inside a caller's own jit.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from mocogan_jax import losses
from mocogan_jax.config import Config
from mocogan_jax.models.discriminators import ImageDiscriminator, VideoDiscriminator
from mocogan_jax.models.encoders import VideoEncoder
from mocogan_jax.models.generator import VideoGenerator, sample_latents

# Mesh axes the batch is split over (parallel.py builds the mesh).
BATCH_AXES = ("data", "fsdp")


def _constrain(tree, spec):
  return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, spec), tree)


def split_over_batch(tree):
  """Lays the leading axis of every array out over the mesh's batch axes.

  Random latents are born replicated; without this every device would generate
  and discriminate all the fakes. A no-op outside a mesh context (plain jit)
  or when the mesh has none of BATCH_AXES.
  """
  axes = tuple(a for a in BATCH_AXES if a in jax.sharding.get_abstract_mesh().axis_names)
  if not axes:  # no mesh, or a caller's mesh with other axis names: leave it to XLA
    return tree
  return _constrain(tree, jax.sharding.PartitionSpec(axes))


def gather_for_use(params):
  """Whole parameters for a forward pass when they are stored split over `fsdp`.

  Left to itself XLA may split a convolution over the split weight's channels
  instead of over the batch, and then gather activations, which are far larger
  than weights. Gathering the weights keeps every activation split over the
  batch; the gradient comes back split as the parameters are stored.
  """
  mesh = jax.sharding.get_abstract_mesh()
  if "fsdp" not in mesh.axis_names or mesh.shape["fsdp"] == 1:
    return params
  return _constrain(params, jax.sharding.PartitionSpec())


class Networks(NamedTuple):
  generator: VideoGenerator
  image_discriminator: ImageDiscriminator
  video_discriminator: VideoDiscriminator


def networks(config: Config) -> Networks:
  return Networks(VideoGenerator(config), ImageDiscriminator(config), VideoDiscriminator(config))


def optimizer(config: Config) -> optax.GradientTransformation:
  """torch.optim.Adam(lr, betas, weight_decay): the L2 term joins the gradient
  before the moments, unlike AdamW."""
  return optax.chain(
      optax.add_decayed_weights(config.weight_decay),
      optax.scale_by_adam(b1=config.adam_b1, b2=config.adam_b2, eps=1e-8),
      optax.scale(-config.learning_rate),
  )


@struct.dataclass
class NetworkState:
  """One network: params, BatchNorm running statistics, Adam state."""
  params: Any
  batch_stats: Any
  opt_state: Any

  @property
  def variables(self):
    return {"params": self.params, "batch_stats": self.batch_stats}


@struct.dataclass
class TrainState:
  """Everything a run needs to continue.

  step: int32 scalar, number of completed iterations.
  generator, image_discriminator, video_discriminator: `NetworkState`s. The
    generator's params are {"motion_rnn": GRU weights, "image_generator":
    ConvTranspose kernels (4, 4, C_in, C_out) and BatchNorm scale/bias}.
  config: static; selects the networks and the compiled program.
  encoder: the VideoEncoder's `NetworkState` when config.encoder_weight > 0,
    else None.
  generator_ema: with config.ema_decay > 0, {"params", "batch_stats"}: an
    exponential moving average of the generator's parameters and BatchNorm
    statistics (`update_ema`), which samples, evaluation and export use
    (`sampling_variables`); else None.
  """
  step: jax.Array
  generator: NetworkState
  image_discriminator: NetworkState
  video_discriminator: NetworkState
  config: Config = struct.field(pytree_node=False)
  encoder: Any = None
  generator_ema: Any = None


def sampling_variables(state: TrainState):
  """The generator's {"params", "batch_stats"} to sample, evaluate and export
  with: the moving average when the run keeps one, else the trained weights."""
  if state.generator_ema is not None:
    return state.generator_ema
  return state.generator.variables


def update_ema(ema, generator: NetworkState, step, decay: float):
  """ema <- d * ema + (1 - d) * generator's variables, d = min(decay, (1 + step)
  / (10 + step)): the warm-up keeps the average from holding on to the random
  initial weights for thousands of steps. The BatchNorm running statistics are
  averaged too, so the averaged weights meet averaged statistics."""
  d = jnp.minimum(decay, (1.0 + step) / (10.0 + step)).astype(jnp.float32)
  return jax.tree.map(lambda e, x: d * e + (1.0 - d) * x, ema, generator.variables)


def create_train_state(config: Config, key) -> TrainState:
  """Initialises all three networks (and the encoders, with encoder_weight)
  and their optimisers from one key."""
  k_g, k_di, k_dv, k_lat = jax.random.split(key, 4)
  nets = networks(config)
  tx = optimizer(config)
  s, c, t = config.image_size, config.channels, config.video_length

  def init(module, k, x):
    variables = module.init({"params": k, "noise": k}, x, train=False)
    params = variables["params"]
    return NetworkState(params, variables.get("batch_stats", {}), tx.init(params))

  generator = init(nets.generator, k_g, sample_latents(k_lat, config, 1, t))
  return TrainState(
      step=jnp.zeros((), jnp.int32),
      generator=generator,
      image_discriminator=init(nets.image_discriminator, k_di, jnp.zeros((1, s, s, c))),
      video_discriminator=init(nets.video_discriminator, k_dv, jnp.zeros((1, t, s, s, c))),
      config=config,
      encoder=(init(VideoEncoder(config), jax.random.fold_in(key, 4), jnp.zeros((1, t, s, s, c)))
               if config.encoder_weight else None),
      generator_ema=generator.variables if config.ema_decay else None,
  )


def to_float(pixels):
  """uint8 [0, 255] -> float32 [-1, 1]. Done on the device: 4x fewer bytes in."""
  return pixels.astype(jnp.float32) / 127.5 - 1.0


def _update(net: NetworkState, grads, batch_stats, tx) -> NetworkState:
  updates, opt_state = tx.update(grads, net.opt_state, net.params)
  return NetworkState(optax.apply_updates(net.params, updates), batch_stats, opt_state)


def train_step(state: TrainState, batch, key):
  """One MoCoGAN iteration: image-D update, video-D update, G update.

  batch: {"video": uint8 (Bv, T, S, S, C), "label": int32 (Bv,),
          "image": uint8 (Bi, S, S, C)}: real clips, their categories, and
          single frames of other real videos.
  key: a PRNG key for this step (e.g. fold_in(run_key, step)); all latents,
       frame choices and instance noise come from it.
  Returns (new_state, metrics), metrics a dict of float32 scalars. With
  config.nonfinite == "skip", a step whose losses are not all finite leaves the
  networks unchanged and reports metrics["skipped"] = 1.

  As the official trainer: fakes for each D update are generated by G in
  training mode (its BatchNorm statistics update); real and fake batches go
  through D separately (separate batch statistics); G is updated on freshly
  generated images and videos against the just-updated discriminators.

  Not in the official code, off by default: config.r1_gamma > 0 adds the R1
  penalty on real inputs to each discriminator's loss (included in
  "loss/image_discriminator" and "loss/video_discriminator"); config.ema_decay
  > 0 updates state.generator_ema after the G update (`update_ema`).

  With config.encoder_weight > 0 (not in the official code) the G update also
  trains the encoders (state.encoder): encoding.py's latent regression on G's
  videos and L1 reconstruction of the real clips, weighted into G's loss, with
  gradients into both. G must then keep every code readable from its frames
  (z_content too, not only the category that InfoGAN asks for) and learn to
  draw the real clips from their codes. Metrics gain "loss/encoder_latent",
  "loss/encoder_reconstruction" and "encoder/error/*"; "loss/generator"
  includes the weighted encoder terms.
  """
  config = state.config
  nets = networks(config)
  tx = optimizer(config)
  bi, bv, t = config.image_batch, config.video_batch, config.video_length
  keys = iter(jax.random.split(key, 12))

  real_images = to_float(batch["image"])
  real_videos = to_float(batch["video"])

  def fake_images(g_params, g_stats):
    # The official sampler draws frames at random positions of random videos.
    latents = split_over_batch(sample_latents(next(keys), config, bi, t))
    frame = split_over_batch(jax.random.randint(next(keys), (bi,), 0, t))
    images, updated = nets.generator.apply(
        {"params": gather_for_use(g_params), "batch_stats": g_stats}, latents, frame, train=True,
        method=VideoGenerator.images, mutable=["batch_stats"])
    return images, updated["batch_stats"]

  def fake_videos(g_params, g_stats):
    latents = split_over_batch(sample_latents(next(keys), config, bv, t))
    videos, updated = nets.generator.apply(
        {"params": gather_for_use(g_params), "batch_stats": g_stats}, latents, train=True,
        mutable=["batch_stats"])
    return videos, latents, updated["batch_stats"]

  def discriminate(module, params, batch_stats, x):
    (logits, category_logits), updated = module.apply(
        {"params": gather_for_use(params), "batch_stats": batch_stats}, x, train=True,
        rngs={"noise": next(keys)}, mutable=["batch_stats"])
    return logits, category_logits, updated["batch_stats"]

  def discriminate_real(module, params, batch_stats, x):
    # D on real data, and with config.r1_gamma > 0 the R1 penalty: gamma / 2
    # times the squared norm of the gradient of each clip's (mean) logit with
    # respect to its pixels, averaged over the batch.
    if not config.r1_gamma:
      return (*discriminate(module, params, batch_stats, x), jnp.zeros(()))

    def summed(x):
      logits, category_logits, stats = discriminate(module, params, batch_stats, x)
      per_sample = logits.reshape(logits.shape[0], -1).mean(axis=1)
      return per_sample.sum(), (logits, category_logits, stats)

    (_, (logits, category_logits, stats)), grad = jax.value_and_grad(summed, has_aux=True)(x)
    r1 = 0.5 * config.r1_gamma * jnp.sum(jnp.square(grad)) / x.shape[0]
    return logits, category_logits, stats, r1

  g, di, dv = state.generator, state.image_discriminator, state.video_discriminator
  g_stats = g.batch_stats

  # --- Image discriminator -------------------------------------------------------
  images, g_stats = fake_images(g.params, g_stats)
  images = jax.lax.stop_gradient(images)

  def image_d_loss(params):
    real, _, stats, r1 = discriminate_real(
        nets.image_discriminator, params, di.batch_stats, real_images)
    fake, _, stats = discriminate(nets.image_discriminator, params, stats, images)
    loss = losses.discriminator_loss(real, fake) + r1
    return loss, (stats, jax.nn.sigmoid(real).mean(), jax.nn.sigmoid(fake).mean())

  (l_image_d, (stats, di_real, di_fake)), grads = jax.value_and_grad(
      image_d_loss, has_aux=True)(di.params)
  di = _update(di, grads, stats, tx)

  # --- Video discriminator -------------------------------------------------------
  videos, _, g_stats = fake_videos(g.params, g_stats)
  videos = jax.lax.stop_gradient(videos)

  def video_d_loss(params):
    real, real_categories, stats, r1 = discriminate_real(
        nets.video_discriminator, params, dv.batch_stats, real_videos)
    fake, _, stats = discriminate(nets.video_discriminator, params, stats, videos)
    gan = losses.discriminator_loss(real, fake) + r1
    category = (losses.category_ce(real_categories, batch["label"])
                if config.use_categories else jnp.zeros(()))
    return gan + category, (stats, category, jax.nn.sigmoid(real).mean(),
                            jax.nn.sigmoid(fake).mean())

  (l_video_d, (stats, l_category, dv_real, dv_fake)), grads = jax.value_and_grad(
      video_d_loss, has_aux=True)(dv.params)
  dv = _update(dv, grads, stats, tx)

  # --- Generator (and encoders) ---------------------------------------------------
  def generator_loss(params, encoder_params):
    images, stats = fake_images(params, g_stats)
    videos, latents, stats = fake_videos(params, stats)
    image_logits, _, di_stats = discriminate(
        nets.image_discriminator, di.params, di.batch_stats, images)
    video_logits, category_logits, dv_stats = discriminate(
        nets.video_discriminator, dv.params, dv.batch_stats, videos)
    infogan = (losses.category_ce(category_logits, latents["category"])
               if config.use_infogan else jnp.zeros(()))
    loss = losses.generator_loss(image_logits) + losses.generator_loss(video_logits) + infogan
    aux = {"stats": stats, "di_stats": di_stats, "dv_stats": dv_stats, "infogan": infogan}
    if config.encoder_weight:
      encoder_loss, aux["encoder_stats"], aux["encoder"], aux["stats"] = joint_encoder_loss(
          params, encoder_params, stats, videos, latents)
      loss += config.encoder_weight * encoder_loss
    return loss, aux

  def joint_encoder_loss(params, encoder_params, stats, videos, latents):
    # The encoders read this step's fake videos back into their codes and
    # encode the real clips for G to redraw; G gets the gradient of both, so it
    # must keep every code visible (z_content as well as the category) and
    # learn to draw the real clips it is shown.
    generator = {"params": gather_for_use(params), "batch_stats": stats}
    motion_states = nets.generator.apply(generator, latents["h0"], latents["eps"],
                                         method="continue_motion")
    codes, updated = VideoEncoder(config).apply(
        {"params": gather_for_use(encoder_params), "batch_stats": state.encoder.batch_stats},
        jnp.concatenate([videos, real_videos]), train=True, mutable=["batch_stats"])
    on_fake = jax.tree.map(lambda x: x[:bv], codes)
    on_real = jax.tree.map(lambda x: x[bv:], codes)
    latent, errors = losses.latent_regression(
        on_fake, latents, motion_states, on_real,
        batch["label"] if config.use_categories else None)
    decoded, g_updated = nets.generator.apply(
        generator, on_real["content"], on_real["category"], on_real["motion"], train=True,
        method="decode", mutable=["batch_stats"])
    reconstruction = losses.reconstruction(decoded, real_videos)
    metrics = {f"encoder/{k}": v for k, v in errors.items()}
    metrics |= {"loss/encoder_latent": latent, "loss/encoder_reconstruction": reconstruction}
    return (latent + reconstruction, updated["batch_stats"], metrics,
            g_updated["batch_stats"])

  e = state.encoder
  (l_generator, aux), grads = jax.value_and_grad(generator_loss, argnums=(0, 1), has_aux=True)(
      g.params, e.params if e is not None else None)
  g_stats, di_stats, dv_stats, l_infogan = (aux["stats"], aux["di_stats"], aux["dv_stats"],
                                            aux["infogan"])
  g = _update(g, grads[0], g_stats, tx)
  if e is not None:
    e = _update(e, grads[1], aux["encoder_stats"], tx)
  # The D forwards of the G step ran in training mode: keep their running stats, as
  # PyTorch does.
  di = di.replace(batch_stats=di_stats)
  dv = dv.replace(batch_stats=dv_stats)

  metrics = {
      "loss/image_discriminator": l_image_d,
      "loss/video_discriminator": l_video_d,
      "loss/generator": l_generator,
      "loss/video_category": l_category,
      "loss/infogan": l_infogan,
      **aux.get("encoder", {}),
      "d_prob/image_real": di_real,
      "d_prob/image_fake": di_fake,
      "d_prob/video_real": dv_real,
      "d_prob/video_fake": dv_fake,
  }
  ema = state.generator_ema
  if ema is not None:
    ema = update_ema(ema, g, state.step, config.ema_decay)
  new_state = state.replace(step=state.step + 1, generator=g, image_discriminator=di,
                            video_discriminator=dv, encoder=e, generator_ema=ema)
  if config.nonfinite == "skip":
    # Keep the networks as they were, move on to the next batch, report it.
    finite = jnp.all(jnp.isfinite(jnp.stack(
        [v for k, v in metrics.items() if k.startswith("loss/")])))
    kept = jax.tree.map(lambda new, old: jnp.where(finite, new, old), new_state, state)
    new_state = kept.replace(step=new_state.step)
    metrics["skipped"] = 1.0 - finite.astype(jnp.float32)
  return new_state, metrics

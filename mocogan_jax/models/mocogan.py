"""MoCoGAN: its networks as a Config selects them, its train state and pure
train step, its sampler, its config checks and its info, as models/vgan.py
and models/tgan.py hold theirs. No I/O, no clock.

    state = mocogan.create_train_state(config, key)
    state, metrics = mocogan.train_step(state, batch, key)
    videos = mocogan.sample_videos(mocogan.sampling_variables(state), config, key, 16)

`generator(config)`, `image_discriminator(config)`, ... are the one place
where config fields become module settings, so that the networks themselves
(models/generator.py, discriminators.py, encoders.py) take only what they use.
The whole state is one pytree (`TrainState`) whose only static part is the
config; `train_step` is pure, so it can be `jax.jit`-ed with the state donated,
given shardings, or called inside a caller's own jit.
"""

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from mocogan_jax import gan, losses
from mocogan_jax.config import Config
from mocogan_jax.predictors.encoder_objective import encoder_losses
from mocogan_jax.models import discriminators
from mocogan_jax.models.encoders import VideoEncoder
from mocogan_jax.models.generator import VideoGenerator
# Re-exported: the functional API (mocogan_jax.__init__) and the registry name them here.
from mocogan_jax.gan import NetworkState, sampling_variables, stream, update_ema  # noqa: F401
from mocogan_jax.pixels import to_float
from mocogan_jax.sharding import split_over_batch


IMAGE_DISCRIMINATORS = {"patch": discriminators.PatchImageDiscriminator,
                        "full": discriminators.ImageDiscriminator}


def generator(config: Config) -> VideoGenerator:
  return VideoGenerator(config.dim_z_content, config.n_categories, config.dim_z_motion,
                        config.ngf, config.channels, config.image_size, config.conv_impl,
                        jnp.dtype(config.dtype), config.attention_resolution,
                        config.content_modulation, config.output_blur, config.output_upsample)


def _discriminator_settings(config: Config) -> dict:
  return {"ndf": config.ndf, "norm": config.discriminator_norm,
          "noise_sigma": config.noise_sigma, "conv_impl": config.conv_impl,
          "dtype": jnp.dtype(config.dtype), "attention_resolution": config.attention_resolution}


def image_discriminator(config: Config):
  """config.image_discriminator: patch (official) | full."""
  settings = _discriminator_settings(config)
  settings["norm"] = config.image_discriminator_norm or config.discriminator_norm
  return IMAGE_DISCRIMINATORS[config.image_discriminator](**settings)


def video_discriminator(config: Config):
  """config.video_discriminator: categorical (official: real/fake and the
  category) | plain (real/fake) | patch (a real/fake map)."""
  if config.video_discriminator == "patch":
    return discriminators.PatchVideoDiscriminator(**_discriminator_settings(config))
  n_categories = config.n_categories if config.video_discriminator == "categorical" else 0
  return discriminators.VideoDiscriminator(**_discriminator_settings(config),
                                           n_categories=n_categories)


def encoder(config: Config, content_from: str = "average") -> VideoEncoder:
  """The content and motion encoders of a run (predictors/encoding.py)."""
  return VideoEncoder(config.ndf, config.dim_z_content, config.dim_z_motion,
                      config.n_categories, content_from, config.conv_impl)


def sample_latents(key, config: Config, num_videos: int, length: int):
  """Draws every random input of the generator for `num_videos` videos.

  Returns {"content": (N, dc), "category": (N,) int32, "h0": (N, dm),
  "eps": (N, T, dm)}.
  """
  k_content, k_category, k_h0, k_eps = jax.random.split(key, 4)
  n, dm = num_videos, config.dim_z_motion
  return {
      "content": jax.random.normal(k_content, (n, config.dim_z_content)),
      "category": jax.random.randint(k_category, (n,), 0, max(config.n_categories, 1)),
      "h0": jax.random.normal(k_h0, (n, dm)),
      "eps": jax.random.normal(k_eps, (n, length, dm)),
  }


# --- The train state and step ------------------------------------------------

class Networks(NamedTuple):
  generator: VideoGenerator
  image_discriminator: Any  # models/discriminators.py
  video_discriminator: Any


def networks(config: Config) -> Networks:
  return Networks(generator(config), image_discriminator(config),
                  video_discriminator(config))


def config_problems(config: Config) -> list[str]:
  """MoCoGAN's settings that only make sense together (registry.validate's model part)."""
  found = []
  if (config.use_categories or config.use_infogan) and config.video_discriminator != "categorical":
    found.append("use_categories and use_infogan need video_discriminator=categorical")
  if (config.use_categories or config.use_infogan) and config.n_categories < 1:
    found.append("use_categories and use_infogan need n_categories >= 1")
  if config.video_discriminator == "categorical" and config.n_categories < 1:
    found.append("video_discriminator=categorical needs n_categories >= 1")
  return found


optimizer = gan.adam


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


def create_train_state(config: Config, key) -> TrainState:
  """Initialises all three networks (and the encoders, with encoder_weight)
  and their optimisers from one key."""
  k_g, k_di, k_dv, k_lat = jax.random.split(key, 4)
  nets = networks(config)
  tx = optimizer(config)
  s, c, t = config.image_size, config.channels, config.video_length

  init = lambda module, k, x: gan.init_network(module, k, x, tx)
  generator = init(nets.generator, k_g, sample_latents(k_lat, config, 1, t))
  return TrainState(
      step=jnp.zeros((), jnp.int32),
      generator=generator,
      image_discriminator=init(nets.image_discriminator, k_di, jnp.zeros((1, s, s, c))),
      video_discriminator=init(nets.video_discriminator, k_dv, jnp.zeros((1, t, s, s, c))),
      config=config,
      encoder=(init(encoder(config), jax.random.fold_in(key, 4),
                    jnp.zeros((1, t, s, s, c)))
               if config.encoder_weight else None),
      generator_ema=generator.variables if config.ema_decay else None,
  )


def _fake_images(generator: VideoGenerator, variables, config: Config, key):
  """-> (images (Bi, S, S, C), the generator's updated batch_stats). As the
  official sampler: one frame at a random position of each of Bi new videos."""
  bi, t = config.image_batch, config.video_length
  latents = split_over_batch(sample_latents(stream(key, "latents"), config, bi, t))
  frame = split_over_batch(jax.random.randint(stream(key, "frame"), (bi,), 0, t))
  images, updated = generator.apply(gan.for_use(variables), latents, frame, train=True,
                                    method=VideoGenerator.images, mutable=["batch_stats"])
  return images, updated["batch_stats"]


def _fake_videos(generator: VideoGenerator, variables, config: Config, key):
  """-> (videos (Bv, T, S, S, C), their latents, the updated batch_stats)."""
  latents = split_over_batch(
      sample_latents(stream(key, "latents"), config, config.video_batch, config.video_length))
  videos, updated = generator.apply(gan.for_use(variables), latents, train=True,
                                    mutable=["batch_stats"])
  return videos, latents, updated["batch_stats"]


def discriminate(module, variables, x, key):
  """D in training mode -> (logits, category_logits, updated batch_stats)."""
  (logits, category_logits), updated = module.apply(
      gan.for_use(variables), x, train=True, rngs={"noise": key}, mutable=["batch_stats"])
  return logits, category_logits, updated["batch_stats"]


def _discriminate_real(module, variables, x, key, r1_gamma: float):
  """discriminate on real data, plus the R1 penalty: gamma / 2 times the
  squared norm of the gradient of each example's mean logit with respect to its
  pixels, averaged over the batch (0 when r1_gamma is 0)."""
  if not r1_gamma:
    return (*discriminate(module, variables, x, key), jnp.zeros(()))

  def summed(x):
    logits, category_logits, stats = discriminate(module, variables, x, key)
    return logits.reshape(logits.shape[0], -1).mean(axis=1).sum(), (logits, category_logits, stats)

  (_, (logits, category_logits, stats)), grad = jax.value_and_grad(summed, has_aux=True)(x)
  return logits, category_logits, stats, 0.5 * r1_gamma * jnp.sum(jnp.square(grad)) / x.shape[0]


def discriminator_update(module, net: NetworkState, real, fake, config: Config, key,
                          r1_gamma: float, category_loss=None):
  """One Adam step of a discriminator: real -> 1, fake -> 0 (+ R1 at
  r1_gamma), and category_loss(category logits on real) when given.
  -> (net, loss, category loss, mean D(real), mean D(fake))."""
  def loss_fn(params):
    real_logits, real_categories, stats, r1 = _discriminate_real(
        module, {"params": params, "batch_stats": net.batch_stats}, real,
        stream(key, "noise/real"), r1_gamma)
    fake_logits, _, stats = discriminate(module, {"params": params, "batch_stats": stats}, fake,
                                          stream(key, "noise/fake"))
    category = category_loss(real_categories) if category_loss else jnp.zeros(())
    loss = losses.discriminator_loss(real_logits, fake_logits) + r1 + category
    return loss, (stats, category, jax.nn.sigmoid(real_logits).mean(),
                  jax.nn.sigmoid(fake_logits).mean())

  (loss, (stats, category, p_real, p_fake)), grads = jax.value_and_grad(
      loss_fn, has_aux=True)(net.params)
  return gan.apply_gradients(net, grads, stats, optimizer(config)), loss, category, p_real, p_fake


def r1_weight(config: Config, discriminator: str) -> float:
  """The R1 weight of the "image" or "video" discriminator (config.r1_on)."""
  return config.r1_gamma if config.r1_on in ("both", discriminator) else 0.0


def image_discriminator_update(state: TrainState, g_stats, real_images, key):
  """The image discriminator's step on real frames (Bi, S, S, C) in [-1, 1]
  against new fakes. -> (its NetworkState, the generator's batch_stats after
  drawing the fakes, metrics)."""
  config, nets = state.config, networks(state.config)
  images, g_stats = _fake_images(
      nets.generator, {"params": state.generator.params, "batch_stats": g_stats}, config,
      stream(key, "fakes"))
  di, loss, _, p_real, p_fake = discriminator_update(
      nets.image_discriminator, state.image_discriminator, real_images,
      jax.lax.stop_gradient(images), config, key, r1_weight(config, "image"))
  return di, g_stats, {"loss/image_discriminator": loss, "d_prob/image_real": p_real,
                       "d_prob/image_fake": p_fake}


def video_discriminator_update(state: TrainState, g_stats, real_videos, labels, key):
  """The video discriminator's step on real clips (Bv, T, S, S, C) in [-1, 1]
  against new fakes, and (use_categories) on the real clips' labels (Bv,).
  -> (its NetworkState, the generator's batch_stats, metrics)."""
  config, nets = state.config, networks(state.config)
  videos, _, g_stats = _fake_videos(
      nets.generator, {"params": state.generator.params, "batch_stats": g_stats}, config,
      stream(key, "fakes"))
  category_loss = ((lambda logits: losses.category_ce(logits, labels))
                   if config.use_categories else None)
  dv, loss, category, p_real, p_fake = discriminator_update(
      nets.video_discriminator, state.video_discriminator, real_videos,
      jax.lax.stop_gradient(videos), config, key, r1_weight(config, "video"), category_loss)
  return dv, g_stats, {"loss/video_discriminator": loss, "loss/video_category": category,
                       "d_prob/video_real": p_real, "d_prob/video_fake": p_fake}


def generator_update(state: TrainState, g_stats, real_videos, labels, key):
  """The generator's step against both (already updated) discriminators on new
  images and videos, with the InfoGAN term (use_infogan): D_V should recognise
  the sampled category. With encoder_weight > 0 the encoders train here too,
  on encoder_objective.encoder_losses, with gradients into G as well.
  -> (generator, encoder or None, the discriminators' batch_stats after their
  training-mode forwards (kept, as PyTorch does), metrics)."""
  config, nets = state.config, networks(state.config)
  di, dv, e = state.image_discriminator, state.video_discriminator, state.encoder

  def loss_fn(params, encoder_params):
    images, stats = _fake_images(nets.generator, {"params": params, "batch_stats": g_stats},
                                 config, stream(key, "images"))
    videos, latents, stats = _fake_videos(nets.generator, {"params": params, "batch_stats": stats},
                                          config, stream(key, "videos"))
    image_logits, _, di_stats = discriminate(nets.image_discriminator, di.variables, images,
                                              stream(key, "noise/image"))
    video_logits, category_logits, dv_stats = discriminate(
        nets.video_discriminator, dv.variables, videos, stream(key, "noise/video"))
    infogan = (losses.category_ce(category_logits, latents["category"])
               if config.use_infogan else jnp.zeros(()))
    loss = (losses.generator_loss(image_logits)
            + config.video_loss_weight * losses.generator_loss(video_logits) + infogan)
    metrics, encoder_stats = {"loss/infogan": infogan}, None
    if config.tv_weight:
      excess = losses.excess_total_variation(videos, real_videos)
      loss += config.tv_weight * excess
      metrics["loss/excess_total_variation"] = excess
    if config.encoder_weight:
      generator = gan.for_use({"params": params, "batch_stats": stats})
      motion_states = nets.generator.apply(generator, latents["h0"], latents["eps"],
                                           method="continue_motion")
      latent, reconstruction, _, errors, encoder_stats, stats = encoder_losses(
          encoder(config), gan.for_use({"params": encoder_params,
                                             "batch_stats": e.batch_stats}),
          nets.generator, generator, videos, latents, motion_states, real_videos,
          labels if config.use_categories else None, train_generator=True)
      loss += config.encoder_weight * (latent + reconstruction)
      metrics |= {f"encoder/{k}": v for k, v in errors.items()}
      metrics |= {"loss/encoder_latent": latent, "loss/encoder_reconstruction": reconstruction}
    return loss, (stats, di_stats, dv_stats, encoder_stats, metrics)

  (loss, (stats, di_stats, dv_stats, encoder_stats, metrics)), grads = jax.value_and_grad(
      loss_fn, argnums=(0, 1), has_aux=True)(state.generator.params,
                                             e.params if e is not None else None)
  tx = optimizer(config)
  g = gan.apply_gradients(state.generator, grads[0], stats, tx)
  if e is not None:
    e = gan.apply_gradients(e, grads[1], encoder_stats, tx)
  return g, e, di_stats, dv_stats, {"loss/generator": loss, **metrics}


def train_step(state: TrainState, batch, key):
  """One MoCoGAN iteration: image-D update, video-D update, G update.

  batch: {"video": uint8 (Bv, T, S, S, C), "label": int32 (Bv,),
          "image": uint8 (Bi, S, S, C)}: real clips, their categories, and
          single frames of other real videos.
  key: a PRNG key for this step (e.g. fold_in(run_key, step)); all latents,
       frame choices and instance noise come from its named `stream`s.
  Returns (new_state, metrics), metrics a dict of float32 scalars. With
  config.nonfinite == "skip", a step whose losses are not all finite leaves the
  networks unchanged and reports metrics["skipped"] = 1.

  As the official trainer: fakes for each D update are generated by G in
  training mode (its BatchNorm statistics update); real and fake batches go
  through D separately (separate batch statistics); G is updated on freshly
  generated images and videos against the just-updated discriminators.
  Not in the official code, off by default: the R1 penalty (r1_gamma, part of
  the discriminators' losses), the generator's moving average (ema_decay,
  `update_ema` after the G update) and the joint encoders (encoder_weight).
  """
  config = state.config
  real_images, real_videos = to_float(batch["image"]), to_float(batch["video"])
  g_stats = state.generator.batch_stats
  di, g_stats, image_metrics = image_discriminator_update(
      state, g_stats, real_images, stream(key, "image_discriminator"))
  dv, g_stats, video_metrics = video_discriminator_update(
      state, g_stats, real_videos, batch["label"], stream(key, "video_discriminator"))
  g, e, di_stats, dv_stats, generator_metrics = generator_update(
      state.replace(image_discriminator=di, video_discriminator=dv), g_stats, real_videos,
      batch["label"], stream(key, "generator"))
  ema = state.generator_ema
  if ema is not None:
    ema = update_ema(ema, g, state.step, config.ema_decay)
  new_state = state.replace(
      step=state.step + 1, generator=g, encoder=e, generator_ema=ema,
      image_discriminator=di.replace(batch_stats=di_stats),
      video_discriminator=dv.replace(batch_stats=dv_stats))
  return gan.keep_if_nonfinite(new_state, state, image_metrics | video_metrics
                               | generator_metrics, config)


def model_info(config: Config, create=create_train_state, step=train_step) -> dict:
  """Parameter counts, latent sizes, shapes and FLOPs per step (XLA's cost
  analysis of the compiled `step`), without running anything. create, step:
  another model's on this TrainState (models/conditional.py)."""
  state = jax.eval_shape(lambda key: create(config, key), jax.random.key(0))
  count = gan.count_parameters
  parameters = {
      "generator": count(state.generator.params),
      "motion_rnn": count(state.generator.params["motion_rnn"]),
      "image_discriminator": count(state.image_discriminator.params),
      "video_discriminator": count(state.video_discriminator.params),
  }
  if state.encoder is not None:
    parameters["encoders"] = count(state.encoder.params)
  return {
      "parameters": parameters,
      "latent": (f"{config.dim_z} per frame = content {config.dim_z_content} + category "
                 f"{config.n_categories} + motion {config.dim_z_motion}"),
      "video_shape": [config.video_length, config.image_size, config.image_size, config.channels],
      "discriminators": (f"image {config.image_discriminator}, "
                         f"video {config.video_discriminator}"),
      "flops_per_step": gan.flops_per_step(step, state, config),
  }


# --- Sampling ---------------------------------------------------------------

MODES = ("random", "fixed-content", "fixed-motion")
# The models whose generator is MoCoGAN's, so that sample_with_mode applies.
MOCOGAN_GENERATORS = ("mocogan", "conditional")


# One program per (config, number, length): run op by op, the generator
# compiles and dispatches hundreds of small operations, seconds a call on a CPU.
@functools.partial(jax.jit, static_argnames=("config", "num_videos", "length"))
def sample_videos(generator_variables, config: Config, key, num_videos: int,
                  length: int | None = None, *, content=None, motion=None, category=None):
  """Videos from the generator in inference mode (BatchNorm running averages).

  generator_variables: {"params", "batch_stats"} of the generator.
  key: draws whatever is not given.
  content: (dim_z_content,) shared by all videos, or (N, dim_z_content).
  motion: (h0 (dim_z_motion,), eps (T, dim_z_motion)) shared by all videos: one
    trajectory of the motion RNN.
  category: an int for all videos, or (N,) ints.
  Returns float32 (N, T, S, S, C) in [-1, 1]. Any T works: the motion RNN unrolls.
  """
  n, t = num_videos, length or config.video_length
  latents = sample_latents(key, config, n, t)
  if content is not None:
    latents["content"] = jnp.broadcast_to(content, latents["content"].shape)
  if motion is not None:
    h0, eps = motion
    latents["h0"] = jnp.broadcast_to(h0, latents["h0"].shape)
    latents["eps"] = jnp.broadcast_to(eps, latents["eps"].shape)
  if category is not None:
    latents["category"] = jnp.broadcast_to(jnp.asarray(category, jnp.int32), (n,))
  return generator(config).apply(generator_variables, latents, train=False)


def sample_with_mode(generator_variables, config: Config, key, num_videos: int, length: int,
                     mode: str = "random", category=None):
  """The paper's disentanglement views. fixed-content: one content code, a
  different motion per video; fixed-motion: one motion trajectory, a different
  content per video."""
  if mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
  k_fixed, k_rest = jax.random.split(key)
  fixed = sample_latents(k_fixed, config, 1, length)
  kwargs = {}
  if mode == "fixed-content":
    kwargs["content"] = fixed["content"][0]
  elif mode == "fixed-motion":
    kwargs["motion"] = (fixed["h0"][0], fixed["eps"][0])
  return sample_videos(generator_variables, config, k_rest, num_videos, length,
                       category=category, **kwargs)

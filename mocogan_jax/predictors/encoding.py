"""Encoders for a trained MoCoGAN: their pure train step, their training loop
(`mocogan-jax train-encoder`), and the uses: reconstruction, prediction, motion
transfer.

    state = create_encoder_state(config, settings, generator_variables, key)
    state, metrics = encoder_train_step(state, batch, key)

The step trains the encoders (models/encoders.py) on two losses, weighted by
the settings:
  latent regression  on generated videos, whose codes are known: squared error
                     of z_content and of every motion state h_t, cross-entropy
                     of the category; and, when the run trains with categories
                     (use_categories), cross-entropy of the real clips' labels;
  reconstruction     on real videos: encode, decode with the generator, L1 in
                     pixels against the input.
The generator is frozen (its BatchNorm in inference mode) unless
`finetune_generator`: then the reconstruction loss also trains it (Adam at the
same rate) and the checkpoint holds that generator, which is no longer the
GAN's: nothing adversarial keeps its frames realistic. On shape_motion it
failed outright: after 1000 steps it drew nothing visible (its predictions
score exactly as all-black frames do), the pixel loss's optimum for a small
object whose place the codes do not yet pin down (experiments/RESULTS.md,
"Prediction and encoders").

Encoders can also train with the GAN itself (config.encoder_weight > 0): the
same two losses join the generator's step in mocogan.train_step, where they
train the generator as well, next to the discriminators that keep its frames
realistic. `train-encoder` then starts from those encoders (`--steps 0` keeps
them as they are).
"""

import dataclasses
import functools
import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from mocogan_jax import checkpointing, pixels, small_trainer, video_io
from mocogan_jax.config import Config, check_choices, option
from mocogan_jax.errors import ConfigError
from mocogan_jax.data import pipeline
from mocogan_jax.predictors.encoder_objective import encoder_losses
from mocogan_jax.evaluation import metrics as metrics_lib
from mocogan_jax.models import mocogan
from mocogan_jax.models.encoders import CONTENT_FROM
from mocogan_jax.models.layers import Conv2d
from mocogan_jax.pixels import to_float
from mocogan_jax.sharding import split_over_batch
from mocogan_jax.models.mocogan import NetworkState


@dataclasses.dataclass(frozen=True)
class EncoderSettings:
  content_from: str = option("average", "the content code from the average of the frames' "
                             "codes or from the first frame (models/encoders.py)", CONTENT_FROM)
  latent_weight: float = option(1.0, "weight of the latent loss on generated videos")
  reconstruction_weight: float = option(1.0, "weight of the reconstruction loss on real clips")
  feature_weight: float = option(0.0, "weight of a feature loss through the run's frozen "
                                      "image discriminator")
  finetune_generator: bool = option(False, "let the reconstruction loss train the generator "
                                            "too (see encoding.py)")
  learning_rate: float = option(1e-3, "Adam's learning rate")
  batch: int = option(16, "real clips per step, and as many generated videos")
  steps: int = option(3000, "0 writes (and measures) the encoders a run trained with the GAN "
                            "(encoder_weight > 0) as they are; more steps fine-tune them")

  def check(self) -> "EncoderSettings":
    check_choices(self)
    weights = (self.latent_weight, self.reconstruction_weight, self.feature_weight)
    if min(weights) < 0 or not sum(weights) > 0:
      raise ConfigError("--latent_weight, --reconstruction_weight and --feature_weight must be "
                        ">= 0, not all 0")
    if self.batch < 1 or self.steps < 0 or not self.learning_rate > 0:
      raise ConfigError("--batch must be >= 1, --steps >= 0 and --learning_rate > 0")
    return self


@struct.dataclass
class EncoderState:
  step: jax.Array
  encoder: NetworkState
  generator: NetworkState  # opt_state is () while the generator is frozen
  feature_network: Any  # the image discriminator's {params, batch_stats}, or {} (frozen)
  config: Config = struct.field(pytree_node=False)
  settings: EncoderSettings = struct.field(pytree_node=False)


# One program: initialised op by op, the encoders compile a few hundred small ones.
@functools.partial(jax.jit, static_argnums=(0, 1))
def _initial_encoder(config: Config, content_from: str, key):
  s, c, t = config.image_size, config.channels, config.video_length
  return mocogan.encoder(config, content_from).init(key, jnp.zeros((1, t, s, s, c)), train=False)


def create_encoder_state(config: Config, settings: EncoderSettings, generator_variables,
                         key, feature_variables=None, encoder_variables=None) -> EncoderState:
  """feature_variables: the run's image discriminator variables, needed when
  settings.feature_weight > 0. encoder_variables: where the encoders start
  (those a run trained with the GAN, config.encoder_weight > 0); else key
  initialises them."""
  if settings.feature_weight and feature_variables is None:
    raise ConfigError("feature_weight > 0 needs the run's image discriminator")
  tx = optax.adam(settings.learning_rate)
  variables = encoder_variables or _initial_encoder(config, settings.content_from, key)
  generator_params = generator_variables["params"]
  return EncoderState(
      step=jnp.zeros((), jnp.int32),
      encoder=NetworkState(variables["params"], variables["batch_stats"],
                           tx.init(variables["params"])),
      generator=NetworkState(generator_params, generator_variables["batch_stats"],
                             tx.init(generator_params) if settings.finetune_generator else ()),
      feature_network=feature_variables if settings.feature_weight else {},
      config=config, settings=settings)


def discriminator_features(variables, config: Config, images):
  """images (M, S, S, C) in [-1, 1] -> the activations of every conv of the
  image discriminator but its last (inference mode, no instance noise)."""
  quiet = config.replace(noise_sigma=0.0)
  _, captured = mocogan.image_discriminator(quiet).apply(
      variables, images, train=False, capture_intermediates=lambda m, _: isinstance(m, Conv2d),
      mutable=["intermediates"])
  layers = [v["__call__"][0] for _, v in sorted(captured["intermediates"].items())
            if isinstance(v, dict) and "__call__" in v]
  return layers[:-1]


def encoder_train_step(state: EncoderState, batch, key):
  """One Adam step of the encoders (and of the generator if finetune_generator).

  batch: {"video": uint8 (B, T, S, S, C)} real clips, and their "label" (B,)
  int when config.use_categories; key draws B generated videos. Returns
  (state, metrics) with metrics of scalars.
  """
  config, settings = state.config, state.settings
  encoder = mocogan.encoder(config, settings.content_from)
  generator = mocogan.generator(config)
  real = to_float(batch["video"])
  b, t = real.shape[:2]
  latents = split_over_batch(mocogan.sample_latents(key, config, b, t))
  frozen = state.generator.variables
  fake = jax.lax.stop_gradient(generator.apply(frozen, latents, train=False))
  true_motion = generator.apply(frozen, latents["h0"], latents["eps"], method="continue_motion")

  def loss_fn(encoder_params, generator_params):
    # With use_categories the video discriminator taught the generator the real labels.
    latent, reconstruction, decoded, metrics, batch_stats, _ = encoder_losses(
        encoder, {"params": encoder_params, "batch_stats": state.encoder.batch_stats},
        generator, {"params": generator_params, "batch_stats": frozen["batch_stats"]}, fake,
        latents, true_motion, real, batch["label"] if config.use_categories else None,
        train_generator=False)
    loss = settings.latent_weight * latent + settings.reconstruction_weight * reconstruction
    metrics |= {"loss/latent": latent, "loss/reconstruction": reconstruction}
    if settings.feature_weight:
      frames = lambda v: v.reshape((-1,) + v.shape[2:])
      ours = discriminator_features(state.feature_network, config, frames(decoded))
      theirs = discriminator_features(state.feature_network, config, frames(real))
      feature = sum(jnp.mean((a - b) ** 2) for a, b in zip(ours, theirs)) / len(ours)
      loss += settings.feature_weight * feature
      metrics["loss/feature"] = feature
    metrics["loss"] = loss
    return loss, (batch_stats, metrics)

  argnums = (0, 1) if settings.finetune_generator else 0
  grads, (batch_stats, metrics) = jax.grad(loss_fn, argnums=argnums, has_aux=True)(
      state.encoder.params, state.generator.params)
  tx = optax.adam(settings.learning_rate)
  encoder_grads = grads[0] if settings.finetune_generator else grads
  updates, opt_state = tx.update(encoder_grads, state.encoder.opt_state, state.encoder.params)
  new_encoder = NetworkState(optax.apply_updates(state.encoder.params, updates), batch_stats,
                             opt_state)
  new_generator = state.generator
  if settings.finetune_generator:
    updates, g_opt = tx.update(grads[1], state.generator.opt_state, state.generator.params)
    new_generator = NetworkState(optax.apply_updates(state.generator.params, updates),
                                 state.generator.batch_stats, g_opt)
  return state.replace(step=state.step + 1, encoder=new_encoder, generator=new_generator), metrics


# ---------------------------------------------------------------------------
# Uses of a trained encoder. Videos uint8 in, float [-1, 1] out.
# ---------------------------------------------------------------------------

# The uses below are compiled programs: run op by op, each would compile and
# dispatch hundreds of small operations, seconds a call on a CPU.
@functools.partial(jax.jit, static_argnames=("config", "content_from"))
def encode(encoder_variables, config: Config, content_from: str, videos):
  """uint8 (N, T, S, S, C) -> codes (see VideoEncoder)."""
  return mocogan.encoder(config, content_from).apply(encoder_variables, to_float(videos),
                                                     train=False)


@functools.partial(jax.jit, static_argnames="config")
def decode(generator_variables, config: Config, codes):
  return mocogan.generator(config).apply(generator_variables, codes["content"],
                                         codes["category"], codes["motion"], train=False,
                                         method="decode")


def pixel_errors(generator_variables, config: Config, codes, target):
  """Mean squared error of each decoded clip against float clips (N, T, S, S, C) -> (N,)."""
  decoded = decode(generator_variables, config, codes)
  return jnp.mean(jnp.square(decoded - target), axis=(1, 2, 3, 4))


@functools.partial(jax.jit, static_argnames="config")
def pick_category(generator_variables, config: Config, codes, videos):
  """The codes with each clip's category replaced by the one-hot category
  whose decoded clip (the other codes as they are) is nearest the uint8 clip
  (N, T, S, S, C) in pixels: K decodes. The category decides the direction of
  motion, which the category encoder reads from a real clip less reliably
  than the decoded clips show it (experiments/notes/inversion.md, "Inversion")."""
  k = config.n_categories
  codes = {name: codes[name] for name in ("content", "category", "motion")}
  if not k:
    return codes
  target = to_float(videos)
  errors = jnp.stack([
      pixel_errors(generator_variables, config, codes | {"category": jnp.broadcast_to(
          jax.nn.one_hot(i, k, dtype=codes["category"].dtype), codes["category"].shape)},
          target) for i in range(k)], axis=1)  # (N, K)
  return codes | {"category": jax.nn.one_hot(jnp.argmin(errors, axis=1), k,
                                             dtype=codes["category"].dtype)}


# Adam steps of `invert` after the category is picked, for every use of a
# trained encoder and the commands' --inversion_steps: 100 take real-clip
# transfer on the shipped model from 0.84 / 0.94 (A's colour, B's direction)
# to 0.94 / 0.96 and prediction above both floors, in 0.5 s per 16-frame clip
# on 2 CPU cores (experiments/notes/inversion.md, "Inversion").
INVERSION_STEPS = 100


def invert(generator_variables, config: Config, codes, videos, steps: int,
           learning_rate: float = 0.05):
  """`codes` of uint8 clips (N, T, S, S, C) refined by `steps` Adam steps on
  the mean squared pixel error of the decoded clips (content, category
  logits and motion states h_1..h_T all free), each clip keeping the codes
  of its lowest error so far.

  Returns (codes {"content" (N, dc), "category" (N, K), "motion" (N, T, dm)},
  errors (steps + 1, N): each clip's lowest error after 0, 1, ... steps,
  never rising). Clips do not interact: the generator's BatchNorm is in
  inference mode."""
  target = to_float(videos)
  # Logits whose softmax is the given category (one-hot: 0 and log 1e-6).
  start = {"content": codes["content"], "motion": codes["motion"],
           "logits": jnp.log(jnp.maximum(codes["category"], 1e-6))}
  as_codes = lambda p: {"content": p["content"], "motion": p["motion"],
                        "category": jax.nn.softmax(p["logits"], axis=-1)}
  errors = lambda p: pixel_errors(generator_variables, config, as_codes(p), target)

  def keep_better(best, best_error, p, error):
    better = error < best_error
    pick = lambda b, x: jnp.where(better.reshape((-1,) + (1,) * (x.ndim - 1)), x, b)
    return jax.tree.map(pick, best, p), jnp.minimum(best_error, error)

  tx = optax.adam(learning_rate)

  def step(carry, _):
    p, opt_state, best, best_error = carry
    error, pullback = jax.vjp(errors, p)
    best, best_error = keep_better(best, best_error, p, error)
    updates, opt_state = tx.update(pullback(jnp.ones_like(error))[0], opt_state)
    return (optax.apply_updates(p, updates), opt_state, best, best_error), best_error

  first = errors(start)
  (p, _, best, best_error), curve = jax.lax.scan(
      step, (start, tx.init(start), start, first), None, length=steps)
  best, best_error = keep_better(best, best_error, p, errors(p))
  return as_codes(best), jnp.concatenate([curve, best_error[None]])


@functools.partial(jax.jit, static_argnames=("config", "content_from", "steps"))
def read_codes(generator_variables, encoder_variables, config: Config, content_from: str,
               videos, steps: int):
  """uint8 clips (N, T, S, S, C) -> their codes: the encoders' reading
  (encode) with the category picked by the decoded clips (pick_category),
  then refined by `steps` of `invert` when steps > 0."""
  codes = encode(encoder_variables, config, content_from, videos)
  codes = pick_category(generator_variables, config, codes, videos)
  if not steps:
    return codes
  return invert(generator_variables, config, codes, videos, steps)[0]


@functools.partial(jax.jit, static_argnames=("config", "content_from", "length", "noise", "steps"))
def predict(generator_variables, encoder_variables, config: Config, content_from: str, context,
            length: int, key, noise: str = "sample", steps: int = INVERSION_STEPS):
  """Continues uint8 context clips (N, K, S, S, C) to `length` frames: the
  content and category of the K frames (read_codes, `steps` of inversion),
  the motion RNN run on from the last state h_K with fresh noise ("sample")
  or its mean, zero ("mean"). Returns float (N, length, S, S, C): the K
  context frames as given, then length - K generated ones."""
  codes = read_codes(generator_variables, encoder_variables, config, content_from, context, steps)
  n, k = context.shape[:2]
  eps = jax.random.normal(key, (n, length - k, config.dim_z_motion))
  if noise == "mean":
    eps = jnp.zeros_like(eps)
  future = mocogan.generator(config).apply(generator_variables, codes["motion"][:, -1], eps,
                                           method="continue_motion")
  frames = decode(generator_variables, config, codes | {"motion": future})
  return jnp.concatenate([to_float(context), frames], axis=1)


@functools.partial(jax.jit, static_argnames=("config", "content_from", "steps"))
def transfer(generator_variables, encoder_variables, config: Config, content_from: str,
             content_videos, motion_videos, steps: int = INVERSION_STEPS):
  """The content of content_videos (N, T1, ...) moving as motion_videos
  (N, T2, ...) do -> float (N, T2, S, S, C), both read with `steps` of
  inversion (read_codes). Motion is the motion states and the category: the
  category is the action (how the video moves), as in the paper, where z_A
  is part of the motion code."""
  read = lambda videos: read_codes(generator_variables, encoder_variables, config, content_from,
                                   videos, steps)
  appearance, movement = read(content_videos), read(motion_videos)
  return decode(generator_variables, config, movement | {"content": appearance["content"]})


# Adam steps of `animate`'s reading of one image: a frame costs a sixteenth of
# a 16-frame clip per step, and 1000 steps rather than 100 take the shipped
# model's frame 1 from 28.2 to 29.7 dB and the image's colour kept from 0.42
# to 0.62 of videos, in 0.6 s an image on 2 CPU cores
# (experiments/notes/inversion.md, "Animate").
ANIMATE_INVERSION_STEPS = 1000


@functools.partial(jax.jit, static_argnames=("config", "length"))
def animate_codes(generator_variables, config: Config, codes, length: int, key, categories=None):
  """Videos from the codes of one-frame clips (read_codes): the content code
  and first motion state h_1 kept, the motion RNN run on from h_1 with the
  prior's noise, of the given categories (N,) int, by default the category
  the image was read under (the most likely of its refined category).
  -> float (N, length, S, S, C)."""
  n = codes["content"].shape[0]
  eps = jax.random.normal(key, (n, length - 1, config.dim_z_motion))
  first = codes["motion"][:, -1]
  future = mocogan.generator(config).apply(generator_variables, first, eps,
                                           method="continue_motion")
  category = codes["category"]
  if config.n_categories:
    if categories is None:  # one-hot, as the generator was trained: 0.62 of colours kept, not 0.53
      categories = jnp.argmax(category, axis=-1)
    category = jax.nn.one_hot(categories, config.n_categories, dtype=category.dtype)
  return decode(generator_variables, config, {
      "content": codes["content"], "category": category,
      "motion": jnp.concatenate([first[:, None], future], axis=1)})


@functools.partial(jax.jit, static_argnames=("config", "content_from", "length", "steps"))
def animate(generator_variables, encoder_variables, config: Config, content_from: str, images,
            length: int, key, categories=None, steps: int = ANIMATE_INVERSION_STEPS):
  """Image-to-video: each uint8 image (N, S, S, C) read as a one-frame clip
  (read_codes, `steps` of inversion), then animate_codes: moving in the given
  categories (N,) int, by default the category the image was read under.
  Where a category decides where a video starts (shape_motion's shapes start
  at the edge they move away from), another category redraws the image's
  shape at its own start. -> float (N, length, S, S, C); under the image's
  own category frame 1 is the image's reconstruction."""
  codes = read_codes(generator_variables, encoder_variables, config, content_from,
                     images[:, None], steps)
  return animate_codes(generator_variables, config, codes, length, key, categories)


def score_animate(generator_variables, encoder_variables, config: Config, content_from: str,
                  frames, length: int, key, steps: int = ANIMATE_INVERSION_STEPS) -> dict:
  """Real frames (N, S, S, C) uint8 read once (`steps` of inversion) and
  animated twice: under each image's own category (animate's default) and
  under categories cycling over 0..K-1. Returns {"videos": N, "own": row,
  "cycled": row}, a row holding PSNR and SSIM of frame 1 against the image
  and, on shape_motion, the share of videos moving in their category's most
  common direction and the share whose mean shape colour over the video is
  within 30 (0..255) of the image's."""
  n = frames.shape[0]
  codes = read_codes(generator_variables, encoder_variables, config, content_from,
                     frames[:, None], steps)
  own = jnp.argmax(codes["category"], axis=-1) if config.n_categories else jnp.zeros(n, int)
  image = frames.astype(np.float32) / 255
  shapes = config.dataset.startswith("shape_motion")
  if shapes:
    image_colours = np.nanmean(metrics_lib.shape_colours(frames[:, None]), axis=1)  # (N, 3)
  scores = {"videos": n}
  for row, categories in (("own", own), ("cycled", jnp.arange(n) % max(config.n_categories, 1))):
    videos = animate_codes(generator_variables, config, codes, length, key, categories)
    first = (np.asarray(videos[:, 0]) + 1) / 2
    scores[row] = {"psnr_first": float(np.mean(metrics_lib.psnr(first, image))),
                   "ssim_first": float(np.mean(metrics_lib.ssim(first, image)))}
    if shapes:
      moved = video_io.to_uint8(videos)
      colours = np.nanmean(metrics_lib.shape_colours(moved), axis=1)
      scores[row] |= {
          "direction_agreement": metrics_lib.direction_agreement(
              metrics_lib.shape_directions(moved), np.asarray(categories)),
          "colour_kept": float(np.mean(np.linalg.norm(colours - image_colours, axis=-1) <= 30))}
  return scores


def score_transfer(generator_variables, encoder_variables, config: Config, content_from: str,
                   records, pairs: int, length: int, steps: int = INVERSION_STEPS) -> dict:
  """Motion transfer read with shape_motion's labels: consecutive records
  (dicts with "video" uint8 (F, S, S, 3), "motion" and "color", as the
  dataset stores them) taken as pairs (A, B), those whose directions differ
  and whose colours differ by 64 or more on some channel, up to `pairs` of
  them; clips of `length` frames at config.every_nth, read with `steps` of
  inversion. Returns metrics.transfer_scores of A's content moving as B."""
  span = (length - 1) * config.every_nth + 1
  a, b = records[0::2], records[1::2][:len(records) // 2]
  label = lambda side, key: np.stack([record[key] for record in side])
  chosen = np.flatnonzero(metrics_lib.distinct_pairs(
      label(a, "color"), label(b, "color"), label(a, "motion"), label(b, "motion")))[:pairs]
  a, b = [a[i] for i in chosen], [b[i] for i in chosen]
  clips = lambda side: np.stack([record["video"][:span:config.every_nth] for record in side])
  moved = transfer(generator_variables, encoder_variables, config, content_from, clips(a),
                   clips(b), steps)
  return metrics_lib.transfer_scores(video_io.to_uint8(moved), label(a, "color"), label(b, "color"),
                                     label(a, "motion"), label(b, "motion"))


# ---------------------------------------------------------------------------
# train-encoder.
# ---------------------------------------------------------------------------

CHECK_CLIPS = 256


def check_model(config: Config) -> None:
  """The encoders read MoCoGAN's codes (content, category, motion states)."""
  if config.model == "conditional":
    raise ConfigError("a model=conditional run trains its own encoders with it; predict with "
                      "'predict --model conditional --workdir RUN'")
  if config.model != "mocogan":
    raise ConfigError(f"the encoders read MoCoGAN's content and motion codes; this run is "
                      f"model={config.model}")


def train_encoder(config: Config, generator_variables, out_dir: str,
                  settings: EncoderSettings, feature_variables=None,
                  encoder_variables=None) -> dict:
  """Trains (or resumes) the encoders of a run's generator into out_dir,
  starting from encoder_variables when given (settings.steps = 0 keeps them
  as they are). Returns the metadata saved with them, held-out measurements
  included."""
  settings.check()
  train, held_out, held_out_name = pipeline.train_and_held_out(config)
  meta = {"config": json.loads(config.to_json()), "settings": dataclasses.asdict(settings)}
  init = functools.partial(create_encoder_state, config, settings, generator_variables,
                           feature_variables=feature_variables,
                           encoder_variables=encoder_variables)

  def make_batch(step):
    videos, labels = pipeline.sample_clips(
        train, settings.batch, config.video_length, config.every_nth,
        [config.seed, pipeline.ClipStream.ENCODER, step],
        label_key=config.label_key if config.use_categories else None)
    return {"video": videos, "label": labels} if config.use_categories else {"video": videos}

  # Measured at the end: reconstruction of held-out real videos, codes of generated ones.
  finish = lambda state: {"held_out": held_out_name,
                          "measured": measure(state, held_out, CHECK_CLIPS)}
  _, meta = small_trainer.fit("encoder", out_dir, config, meta, init, encoder_train_step,
                              make_batch, settings.steps, settings.batch,
                              jax.random.fold_in(jax.random.key(config.seed), 7), finish)
  return meta


def measure(state: EncoderState, held_out, num: int) -> dict:
  """Reconstruction PSNR/SSIM (encode -> decode) of `num` held-out real clips
  (and their category accuracy against the labels, with use_categories) and
  latent recovery errors on `num` generated videos (content from the
  average of the frames and from the first frame alone)."""
  config = state.config
  videos, labels = pipeline.sample_clips(
      held_out, num, config.video_length, config.every_nth,
      [config.seed, pipeline.ClipStream.ENCODER_CHECK],
      label_key=config.label_key if config.use_categories else None)
  encoder_variables, generator_variables = state.encoder.variables, state.generator.variables

  @jax.jit
  def reconstruct(videos):
    codes = encode(encoder_variables, config, state.settings.content_from, videos)
    return decode(generator_variables, config, codes), codes["category"]

  @jax.jit
  def recover(key):
    latents = mocogan.sample_latents(key, config, num, config.video_length)
    fake = mocogan.generator(config).apply(generator_variables, latents, train=False)
    motion = mocogan.generator(config).apply(generator_variables, latents["h0"],
                                             latents["eps"], method="continue_motion")
    uint8 = pixels.to_uint8(fake)
    codes = encode(encoder_variables, config, state.settings.content_from, uint8)
    per_frame = codes["content_frames"]
    errors = {
        "content_mse_average": jnp.mean((per_frame.mean(axis=1) - latents["content"]) ** 2),
        "content_mse_first": jnp.mean((per_frame[:, 0] - latents["content"]) ** 2),
        "motion_mse": jnp.mean((codes["motion"] - motion) ** 2),
    }
    if config.n_categories:
      errors["category_accuracy"] = jnp.mean(
          jnp.argmax(codes["category"], -1) == latents["category"])
    return errors

  decoded, category = reconstruct(videos)
  decoded = (np.asarray(decoded) + 1) / 2
  target = videos.astype(np.float32) / 255
  out = {"reconstruction_psnr": float(np.mean(metrics_lib.psnr(decoded, target))),
         "reconstruction_ssim": float(np.mean(metrics_lib.ssim(decoded, target))),
         "clips": num}
  if config.use_categories:
    out["real_category_accuracy"] = float(np.mean(np.argmax(category, -1) == labels))
  out |= {k: float(v) for k, v in recover(jax.random.key(config.seed + 1)).items()}
  return out


def load(path: str, config: Config, generator_variables):
  """(settings, encoder variables, generator variables, meta) from train-encoder's
  output; the generator is the checkpoint's own when it was fine-tuned."""
  mngr, step = checkpointing.existing(path)
  if step is None:
    raise ConfigError(f"no encoders in {path}; train them with "
                      f"'mocogan-jax train-encoder --workdir RUN'")
  meta = checkpointing.read_meta(mngr, step)
  settings = EncoderSettings(**meta["settings"])
  features = None
  if settings.feature_weight:  # only its shapes: the restore reads the saved copy
    s, c = config.image_size, config.channels
    features = jax.eval_shape(lambda: mocogan.image_discriminator(config).init(
        {"params": jax.random.key(0), "noise": jax.random.key(0)}, jnp.zeros((1, s, s, c)),
        train=False))
  target = checkpointing.abstract_like(
      lambda key: create_encoder_state(config, settings, generator_variables, key, features),
      jax.sharding.SingleDeviceSharding(jax.devices()[0]))
  state = checkpointing.read_state(mngr, step, target)
  return settings, state.encoder.variables, state.generator.variables, meta

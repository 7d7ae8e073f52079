"""Video prediction with five predictors behind one interface, and its scores.

  mocogan      the run's generator continued from its encoders' codes (encoding.py)
  conditional  a model=conditional run: its generator and encoders, trained to
               predict (models/conditional.py)
  convrnn      the ConvRNN baseline (baseline.py), in WORKDIR/convrnn
  svg          the SVG-LP baseline (baseline.py), in WORKDIR/svg
  copy-last    the last context frame, repeated: the floor any predictor must beat

A predictor is predict(context uint8 (N, K, S, S, C), length, key) -> float
(N, length, S, S, C) in [-1, 1], whose first K frames are the context.
mocogan, conditional and svg are stochastic (noise "sample"): `score` can
keep the best of several draws per clip.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np

from mocogan_jax import registry, workdir as workdir_lib
from mocogan_jax.predictors import baseline, encoding
from mocogan_jax.config import Config
from mocogan_jax.errors import ConfigError
from mocogan_jax.evaluation import metrics
from mocogan_jax.pixels import to_float, to_uint8

PREDICTORS = ("mocogan", "conditional", "convrnn", "svg", "copy-last")
NOISE = ("sample", "mean")


def copy_last(context, length: int):
  frames = to_float(context)
  rest = jnp.repeat(frames[:, -1:], length - frames.shape[1], axis=1)
  return jnp.concatenate([frames, rest], axis=1)


def load_predictor(name: str, workdir: str, noise: str = "sample",
                   checkpoint_dir: str | None = None,
                   inversion_steps: int = encoding.INVERSION_STEPS):
  """(config, predictor) for the predictor `name` of a workdir: mocogan reads
  the GAN's generator and WORKDIR/encoder, conditional the run itself, convrnn
  and svg WORKDIR/convrnn and WORKDIR/svg (a workdir may hold only those and
  its config.json), copy-last only the config. inversion_steps: how mocogan
  reads the context (encoding.invert)."""
  if name not in PREDICTORS:
    raise ConfigError(f"--model must be one of {PREDICTORS}, got {name!r}")
  if noise not in NOISE:
    raise ConfigError(f"--noise must be one of {NOISE}, got {noise!r}")
  if name == "mocogan":
    config, settings, encoder_variables, generator_variables = workdir_lib.load_encoders(
        workdir, checkpoint_dir)
    return config, mocogan_predictor(config, settings.content_from, encoder_variables,
                                     generator_variables, noise, inversion_steps)
  if name == "conditional":
    config, state = workdir_lib.load_state(workdir, checkpoint_dir)
    if config.model != "conditional":
      raise ConfigError(f"--model conditional needs a model=conditional run; {workdir} is "
                        f"model={config.model}")
    # "average": the encoders' default, as models/conditional.py trains them.
    return config, mocogan_predictor(config, "average", state.encoder.variables,
                                     registry.get(config).sampling_variables(state), noise)
  config = workdir_lib.load_config(workdir)
  if name == "copy-last":
    fn = jax.jit(copy_last, static_argnums=1)
    return config, lambda context, length, key: fn(context, length)
  settings, params = baseline.load(os.path.join(workdir, name), config, name)
  fn = jax.jit(baseline.predict, static_argnums=(1, 2, 4, 6))
  return config, lambda context, length, key: fn(params, config, settings, context, length, key,
                                                 noise)


def mocogan_predictor(config: Config, content_from: str, encoder_variables, generator_variables,
                      noise: str = "sample", steps: int = encoding.INVERSION_STEPS):
  """The MoCoGAN predictor from encoders and the generator they decode with,
  reading the context with `steps` of inversion (encoding.invert)."""
  if noise not in NOISE:
    raise ConfigError(f"--noise must be one of {NOISE}, got {noise!r}")
  return lambda context, length, key: encoding.predict(
      generator_variables, encoder_variables, config, content_from, context, length, key, noise,
      steps)


def score(predictor, clips, context: int, key, batch: int = 32, samples: int = 1) -> dict:
  """Scores the predicted frames of uint8 clips (N, T, ...) given their first
  `context` frames: {"psnr", "ssim", "mse"}, each (T - K,), the mean over
  clips per predicted frame (MSE: squared error summed over a frame's pixels
  in [0, 1], the OpenSTL tables' per-frame MSE), and "videos": the uint8
  predictions scored (N, T, ...), context included. With samples > 1 (a
  stochastic predictor) each clip keeps the best of that many draws by its
  mean SSIM over the predicted frames, SVG's protocol."""
  length = clips.shape[1]
  kept = {"psnr": [], "ssim": [], "mse": [], "videos": []}
  for i, first in enumerate(range(0, len(clips), batch)):
    part = clips[first:first + batch]
    truth = part[:, context:].astype(np.float32) / 255
    best = None
    for j in range(samples):
      predicted = np.asarray(predictor(part[:, :context], length,
                                       jax.random.fold_in(jax.random.fold_in(key, i), j)))
      frames = (np.clip(predicted[:, context:], -1, 1) + 1) / 2
      draw = {"psnr": np.asarray(metrics.psnr(frames, truth)),
              "ssim": np.asarray(metrics.ssim(frames, truth)),
              "mse": np.square(frames - truth).sum(axis=(2, 3, 4)),
              "videos": to_uint8(predicted)}
      if best is None:
        best = draw
        continue
      better = draw["ssim"].mean(1) > best["ssim"].mean(1)
      best = {k: np.where(better.reshape((-1,) + (1,) * (v.ndim - 1)), draw[k], v)
              for k, v in best.items()}
    for k in kept:
      kept[k].append(best[k])
  out = {k: np.concatenate(v) for k, v in kept.items()}
  return {k: (v if k == "videos" else v.mean(0)) for k, v in out.items()}

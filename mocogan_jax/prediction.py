"""Video prediction with four predictors behind one interface, and its scores.

  mocogan      the run's generator continued from its encoders' codes (encoding.py)
  conditional  a model=conditional run: its generator and encoders, trained to
               predict (models/conditional.py)
  convrnn      the ConvRNN baseline (baseline.py)
  copy-last    the last context frame, repeated: the floor any predictor must beat

A predictor is predict(context uint8 (N, K, S, S, C), length, key) -> float
(N, length, S, S, C) in [-1, 1], whose first K frames are the context.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np

from mocogan_jax import baseline, encoding
from mocogan_jax.config import Config, ConfigError
from mocogan_jax.evaluation import metrics
from mocogan_jax.pixels import to_float

PREDICTORS = ("mocogan", "conditional", "convrnn", "copy-last")
NOISE = ("sample", "mean")


def copy_last(context, length: int):
  frames = to_float(context)
  rest = jnp.repeat(frames[:, -1:], length - frames.shape[1], axis=1)
  return jnp.concatenate([frames, rest], axis=1)


def load_predictor(name: str, workdir: str, config: Config, generator_variables,
                   noise: str = "sample"):
  """The predictor `name` of a training workdir (encoders in WORKDIR/encoder,
  the baseline in WORKDIR/baseline)."""
  if name not in PREDICTORS:
    raise ConfigError(f"--model must be one of {PREDICTORS}, got {name!r}")
  if noise not in NOISE:
    raise ConfigError(f"--noise must be one of {NOISE}, got {noise!r}")
  if name == "copy-last":
    fn = jax.jit(copy_last, static_argnums=1)
    return lambda context, length, key: fn(context, length)
  if name == "conditional":
    from mocogan_jax import workdir as workdir_lib  # it opens workdirs through encoding
    config, state = workdir_lib.load_state(workdir)
    if config.model != "conditional":
      raise ConfigError(f"--model conditional needs a model=conditional run; {workdir} is "
                        f"model={config.model}")
    # "average": the encoders' default, as models/conditional.py trains them.
    return mocogan_predictor(config, "average", state.encoder.variables, generator_variables,
                             noise)
  if name == "convrnn":
    settings, params = baseline.load(os.path.join(workdir, "baseline"), config)
    fn = jax.jit(baseline.predict, static_argnums=(1, 2, 4))
    return lambda context, length, key: fn(params, config, settings, context, length)
  settings, encoder_variables, generator_variables, _ = encoding.load(
      os.path.join(workdir, "encoder"), config, generator_variables)
  return mocogan_predictor(config, settings.content_from, encoder_variables, generator_variables,
                           noise)


def mocogan_predictor(config: Config, content_from: str, encoder_variables, generator_variables,
                      noise: str = "sample"):
  """The MoCoGAN predictor from encoders and the generator they decode with."""
  if noise not in NOISE:
    raise ConfigError(f"--noise must be one of {NOISE}, got {noise!r}")
  fn = jax.jit(encoding.predict, static_argnums=(2, 3, 5, 7))
  return lambda context, length, key: fn(generator_variables, encoder_variables, config,
                                         content_from, context, length, key, noise)


def score(predictor, clips, context: int, key, batch: int = 32) -> dict:
  """Per-frame PSNR and SSIM of the predicted frames of uint8 clips (N, T, ...)
  given their first `context` frames: {"psnr": (T - K,), "ssim": (T - K,)},
  each the mean over clips."""
  length = clips.shape[1]
  psnr, ssim = [], []
  for i, first in enumerate(range(0, len(clips), batch)):
    part = clips[first:first + batch]
    predicted = np.asarray(predictor(part[:, :context], length, jax.random.fold_in(key, i)))
    predicted = (np.clip(predicted[:, context:], -1, 1) + 1) / 2
    truth = part[:, context:].astype(np.float32) / 255
    psnr.append(np.asarray(metrics.psnr(predicted, truth)))
    ssim.append(np.asarray(metrics.ssim(predicted, truth)))
  return {"psnr": np.concatenate(psnr).mean(0), "ssim": np.concatenate(ssim).mean(0)}

"""`mocogan-jax evaluate`: FVD, KVD, ACD, MCS and IS of a generator (or of
held-out real videos, the floor) against a real dataset, as a JSON report.

    mocogan-jax evaluate --workdir workdirs/demo16 --metrics fvd,kvd,acd,mcs,is --num 2048

Protocol (recorded in every report, since FVD is biased at small N): N videos
of `length` frames generated at t = 0..length-1 (categories cycling over the
dataset's classes) against N real clips of `length` frames at stride
`every_nth` from random starts of random training videos. Generated videos are
quantised to uint8 like the real ones before any metric sees them.

  fvd          Fréchet distance of I3D logits (evaluation/i3d.py), float64
  kvd          unbiased polynomial-kernel MMD^2 of the same features
  acd          shape_motion's ACD: frames' shape colour (0..255), mean pairwise L2
  acd_generic  any dataset: frames' 64-bin colour histograms, mean pairwise L2
  mcs          accuracy of the run's classifier (train-classifier) on the
               generated videos' categories; reported with its held-out accuracy
  is           Inception Score from that classifier's class probabilities
  is_c3d       UCF101 Inception Score of TGAN / the paper: C3D weights the user
               supplies (--c3d FOLDER; evaluation/c3d.py), 16 frames, RGB
"""

import dataclasses
import functools
import hashlib
import io
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from mocogan_jax import files, pixels, provenance, registry, sharding
from mocogan_jax.config import EVAL_METRICS, Config
from mocogan_jax.errors import ConfigError
from mocogan_jax.data import pipeline
from mocogan_jax.evaluation import classifier as classifier_lib
from mocogan_jax.evaluation import c3d, i3d, metrics as metrics_lib

METRICS = EVAL_METRICS + ("is_c3d",)  # is_c3d needs weights the user supplies: not in training
I3D_METRICS = ("fvd", "kvd")
CLASSIFIER_METRICS = ("mcs", "is")


@dataclasses.dataclass(frozen=True)
class Protocol:
  metrics: tuple[str, ...]
  num: int = 2048  # generated videos, and real clips
  length: int = 16  # frames per video
  every_nth: int = 2  # stride of the real clips
  batch: int = 16  # videos per device call
  seed: int = 0


def parse_metrics(text: str) -> tuple[str, ...]:
  names = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
  unknown = [m for m in names if m not in METRICS]
  if unknown or not names:
    raise ConfigError(f"--metrics: unknown {', '.join(unknown) or '(none given)'}; choose "
                      f"from {', '.join(METRICS)}")
  return names


def check_protocol(protocol: Protocol) -> None:
  for name in ("num", "length", "every_nth", "batch"):
    if getattr(protocol, name) < 1:
      raise ConfigError(f"--{name} must be >= 1, got {getattr(protocol, name)}")
  if protocol.num < 2:
    raise ConfigError(f"--num must be >= 2 (covariances), got {protocol.num}")
  if "is_c3d" in protocol.metrics and protocol.length != c3d.FRAMES:
    raise ConfigError(f"is_c3d (C3D) takes videos of {c3d.FRAMES} frames; --length is "
                      f"{protocol.length}")
  if set(protocol.metrics) & set(I3D_METRICS) and protocol.length < i3d.MIN_FRAMES:
    raise ConfigError(f"FVD and KVD need videos of at least {i3d.MIN_FRAMES} frames (I3D); "
                      f"--length is {protocol.length}")


# ---------------------------------------------------------------------------
# The networks that look at videos.
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class Tools:
  """Batched feature functions for one protocol: uint8 videos -> arrays."""
  i3d: sharding.Batched | None
  classifier: sharding.Batched | None
  classifier_meta: dict | None
  c3d: sharding.Batched | None = None


def load_tools(protocol: Protocol, config: Config, classifier_dir: str | None,
               c3d_dir: str | None = None) -> Tools:
  mesh = sharding.make_mesh(config)
  features = probabilities = meta = c3d_probabilities = None
  if "is_c3d" in protocol.metrics:
    if config.channels != 3:
      raise ConfigError("is_c3d (C3D on UCF101) needs RGB videos (channels=3)")
    c3d_probabilities = sharding.Batched(c3d.probabilities, c3d.load(c3d_dir), mesh,
                                         protocol.batch)
  if set(protocol.metrics) & set(I3D_METRICS):
    features = sharding.Batched(i3d.features, i3d.load_variables(), mesh, protocol.batch)
  if set(protocol.metrics) & set(CLASSIFIER_METRICS):
    model, variables, meta = classifier_lib.load(classifier_dir)
    expected = {"image_size": config.image_size, "channels": config.channels,
                "length": protocol.length, "every_nth": protocol.every_nth}
    wrong = {k: meta[k] for k in expected if meta[k] != expected[k]}
    if wrong:
      raise ConfigError(f"the classifier in {classifier_dir} was trained on "
                        f"{meta['length']}-frame clips at every_nth={meta['every_nth']}, "
                        f"{meta['image_size']}px, {meta['channels']} channels; this evaluation "
                        f"has {', '.join(f'{k}={expected[k]}' for k in wrong)}")
    probabilities = sharding.Batched(functools.partial(classifier_lib.probabilities, model),
                                     variables, mesh, protocol.batch)
  return Tools(features, probabilities, meta, c3d_probabilities)


# ---------------------------------------------------------------------------
# Video sets -> per-video quantities.
# ---------------------------------------------------------------------------

def describe(chunks, total: int, needs: tuple[str, ...], tools: Tools, what: str) -> dict:
  """chunks: (uint8 videos (B, T, S, S, C), labels (B,)) pairs, `total` videos
  in all -> {"features" (N, 400), "probabilities" (N, K), "labels" (N,),
  "acd" (N,), "acd_generic" (N,)}: whichever the metrics need."""
  out = {}
  with tqdm(total=total, desc=what, unit="video") as progress:
    for videos, labels in chunks:
      parts = {"labels": labels}
      if set(needs) & set(I3D_METRICS):
        parts["features"] = tools.i3d(videos)
      if set(needs) & set(CLASSIFIER_METRICS):
        parts["probabilities"] = tools.classifier(videos)
      if "is_c3d" in needs:
        parts["c3d_probabilities"] = tools.c3d(videos)
      if "acd" in needs:
        parts["acd"] = metrics_lib.shape_colour_acd(videos)
      if "acd_generic" in needs:
        parts["acd_generic"] = metrics_lib.histogram_acd(videos)
      for k, v in parts.items():
        out.setdefault(k, []).append(np.asarray(v))
      progress.update(len(videos))
  return {k: np.concatenate(v) for k, v in out.items()}


def real_chunks(source, protocol: Protocol, seed, label_key: str | None):
  """protocol.num real clips drawn from `seed`, in chunks of protocol.batch."""
  # The first clip now, before any progress bar: a clip longer than the
  # dataset's videos is then one line.
  pipeline.sample_clips(source, protocol.num, protocol.length, protocol.every_nth, seed,
                        rows=slice(0, 1))
  return _real_chunks(source, protocol, seed, label_key)


def _real_chunks(source, protocol: Protocol, seed, label_key: str | None):
  for first in range(0, protocol.num, protocol.batch):
    yield pipeline.sample_clips(source, protocol.num, protocol.length, protocol.every_nth, seed,
                                label_key, rows=slice(first, first + protocol.batch))


@functools.cache
def _generate_fn(config: Config, length: int, chunk: int, rows):
  """A compiled (variables, key, first, categories) -> uint8 (chunk, length, S, S, C):
  videos first .. first + chunk - 1, video i drawn from fold_in(key, i) alone,
  so the N videos do not depend on the chunk size or the number of devices."""

  sample = registry.get(config).sample_videos

  @functools.partial(jax.jit, out_shardings=rows)
  def generate(variables, key, first, categories):
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(first + jnp.arange(chunk))
    if categories is None:
      one = lambda k: sample(variables, config, k, 1, length)[0]
      videos = jax.vmap(one)(keys)
    else:
      one = lambda k, c: sample(variables, config, k, 1, length, category=c)[0]
      videos = jax.vmap(one)(keys, categories)
    return pixels.to_uint8(videos)
  return generate


def generated_chunks(generator_variables, config: Config, protocol: Protocol,
                     num_classes: int | None):
  """Generated videos in chunks, video i of category i mod num_classes (or the
  generator's own draw when there are none), drawn from protocol.seed."""
  mesh = sharding.make_mesh(config)
  chunk = sharding.chunk_size(protocol.batch, mesh)
  generate = _generate_fn(config, protocol.length, chunk, sharding.batch_sharding(mesh))
  variables = jax.device_put(generator_variables, sharding.replicated(mesh))
  key = jax.random.key(protocol.seed)
  for first in range(0, protocol.num, chunk):
    count = min(chunk, protocol.num - first)
    categories = np.arange(first, first + chunk) % (num_classes or 1)
    videos = generate(variables, key, first,
                      jnp.asarray(categories, jnp.int32) if num_classes else None)
    yield np.asarray(jax.device_get(videos))[:count], categories[:count]


# ---------------------------------------------------------------------------
# Metrics from the per-video quantities.
# ---------------------------------------------------------------------------

def compute_metrics(protocol: Protocol, videos: dict, real: dict | None,
                    classifier_meta: dict | None) -> tuple[dict, dict]:
  """(metrics, details) from describe() of the evaluated videos and of the real clips."""
  values, details = {}, {}
  if "fvd" in protocol.metrics:
    values["fvd"] = metrics_lib.frechet_distance(videos["features"], real["features"])
  if "kvd" in protocol.metrics:
    values["kvd"] = metrics_lib.kernel_distance(videos["features"], real["features"])
  for name in ("acd", "acd_generic"):
    if name in protocol.metrics:
      per_video = videos[name]
      values[name] = float(np.nanmean(per_video)) if np.isfinite(per_video).any() else None
      if name == "acd":
        details["acd_videos_without_shape"] = int(np.isnan(per_video).sum())
  if "mcs" in protocol.metrics:
    values["mcs"] = metrics_lib.accuracy(videos["probabilities"], videos["labels"])
  if "is" in protocol.metrics:
    values["is"], details["is_std"] = metrics_lib.inception_score(videos["probabilities"])
  if "is_c3d" in protocol.metrics:
    values["is_c3d"], details["is_c3d_std"] = metrics_lib.inception_score(
        videos["c3d_probabilities"])
  if classifier_meta is not None:
    details["classifier_held_out_accuracy"] = classifier_meta["held_out_accuracy"]
  return values, details


def real_features(config: Config, protocol: Protocol, tools: Tools,
                  cache_dir: str | None = None) -> dict:
  """describe() of protocol.num real clips of the train split: their I3D
  features, read from cache_dir when an earlier evaluation computed them."""
  train = pipeline.load_source(config, "train")
  key = {"dataset": config.dataset, "data_dir": config.data_dir, "split": "train",
         "videos": len(train),
         "num": protocol.num, "length": protocol.length, "every_nth": protocol.every_nth,
         "seed": protocol.seed, "features": "i3d-kinetics-400 logits"}
  name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
  path = f"{cache_dir}/real_{name}.npz" if cache_dir else None
  if path and files.exists(path):
    return {"features": np.load(io.BytesIO(files.read_bytes(path)))["features"]}
  real = describe(real_chunks(train, protocol, protocol.seed, None), protocol.num, I3D_METRICS,
                  tools, "real")
  if path:
    buffer = io.BytesIO()
    np.savez(buffer, features=real["features"], key=json.dumps(key))
    files.write_bytes(path, buffer.getvalue())
  return real


def evaluate(config: Config, generator_variables, protocol: Protocol, *, what: str,
             classifier_dir: str | None = None, c3d_dir: str | None = None,
             real_dataset: str | None = None, cache_dir: str | None = None,
             tools: Tools | None = None, real: dict | None = None) -> dict:
  """Evaluates the generator (or, with generator_variables=None, held-out real
  videos: the floor) and returns the report. `tools` and `real` (describe() of
  the real clips) may be passed in to reuse them across calls; the real
  features are also kept in cache_dir, if given, for later evaluations."""
  check_protocol(protocol)
  start = time.time()
  real_config = config.replace(dataset=real_dataset) if real_dataset else config
  tools = tools or load_tools(protocol, config, classifier_dir, c3d_dir)
  num_classes = tools.classifier_meta["num_classes"] if tools.classifier_meta else None
  label_key = config.label_key if num_classes else None
  if "mcs" in protocol.metrics and generator_variables is not None:
    if config.n_categories < num_classes:
      raise ConfigError(f"MCS needs a generator conditioned on the {num_classes} classes; this "
                        f"one has n_categories={config.n_categories}")

  # Real clips first: a clip longer than the dataset's videos fails here, early.
  if real is None and set(protocol.metrics) & set(I3D_METRICS):
    real = real_features(real_config, protocol, tools, cache_dir)
  if generator_variables is None:
    _, held_out, held_out_name = pipeline.train_and_held_out(real_config)
    clips = real_chunks(held_out, protocol, [protocol.seed, pipeline.ClipStream.CLASSIFIER],
                        label_key)
    videos = describe(clips, protocol.num, protocol.metrics, tools, "held-out real")
    evaluated = f"held-out real videos ({held_out_name})"
  else:
    # An unconditional generator (n_categories 0) draws its own videos; the
    # classifier still reads them (IS).
    conditioned_on = num_classes if config.n_categories else None
    videos = describe(generated_chunks(generator_variables, config, protocol, conditioned_on),
                      protocol.num, protocol.metrics, tools, "generated")
    evaluated = what
  values, details = compute_metrics(protocol, videos, real, tools.classifier_meta)
  return {
      "evaluated": evaluated,
      "real": {"dataset": real_config.dataset, "split": "train"},
      "protocol": dataclasses.asdict(protocol),
      "provenance": provenance.record(),
      "metrics": values,
      "details": details,
      "seconds": round(time.time() - start, 1),
  }


def periodic(config: Config, workdir: str):
  """The evaluation of config.eval_* for the train loop: a function
  generator_variables -> {"eval/<metric>": value}. Real features are computed
  once, on the first call."""
  if jax.process_count() > 1:
    raise ConfigError("eval_every works in single-process runs; evaluate the checkpoints of a "
                      "multi-host run with 'mocogan-jax evaluate' instead")
  protocol = Protocol(parse_metrics(config.eval_metrics), config.eval_num, config.eval_length,
                      config.every_nth, seed=config.seed)
  check_protocol(protocol)
  tools = load_tools(protocol, config, os.path.join(workdir, "classifier"))
  real = {}

  def run(generator_variables) -> dict:
    if not real and set(protocol.metrics) & set(I3D_METRICS):
      real.update(real_features(config, protocol, tools))
    report = evaluate(config, generator_variables, protocol, what="", tools=tools,
                      real=real or None)
    return {f"eval/{k}": v for k, v in report["metrics"].items() if v is not None}
  return run


def format_table(report: dict) -> str:
  p = report["protocol"]
  lines = [f"{report['evaluated']} vs {report['real']['dataset']} (train): N = {p['num']}, "
           f"{p['length']} frames, real clips at every_nth={p['every_nth']}, seed {p['seed']}",
           f"{'metric':<12} {'value':>12}"]
  for name, value in report["metrics"].items():
    text = "n/a" if value is None else f"{value:.4g}"
    lines.append(f"{name:<12} {text:>12}")
  for name, value in report["details"].items():
    lines.append(f"  {name}: {value:.4g}" if isinstance(value, float) else f"  {name}: {value}")
  return "\n".join(lines)


def write_report(report: dict, path: str) -> None:
  files.write_text(path, json.dumps(report, indent=2))

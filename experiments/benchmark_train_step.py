"""Times the compiled train step of a config on whatever devices JAX sees.

    .venv/bin/python experiments/benchmark_train_step.py --config shapes_64 [key=value ...]

On the CPU, XLA_FLAGS=--xla_force_host_platform_device_count=8 gives 8 devices
(experiments/scaling.py runs the 1 vs 8 device and memory tables this way).

Uses the same mesh, shardings and donation as `mocogan-jax train`, on a fixed
random uint8 batch (the input pipeline is measured separately). Prints a table
and ends with one JSON line: compile_time_s, step_time_s_median (and p10/p90),
videos_per_s (real clips consumed), frames_per_s (real frames consumed: clips
x T + single images), the compiled program's memory per device (arguments,
outputs, temporaries), XLA's count of FLOPs per step and the rate achieved
(and, with --peak_tflops, its fraction of the device's peak), with the device
and the resolved settings.
"""

import argparse
import json
import statistics
import time

import jax
import numpy as np

from mocogan_jax import registry, sharding


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", required=True)
  parser.add_argument("--steps", type=int, default=20, help="timed steps after warm-up")
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--peak_tflops", type=float, default=0.0,
                      help="the device's peak rate for the step's dtype: report the fraction reached")
  parser.add_argument("--compile_only", action="store_true",
                      help="only compile and print the per-device memory analysis")
  parser.add_argument("overrides", nargs="*", metavar="key=value")
  args = parser.parse_args()
  config = registry.resolve(args.config, args.overrides)

  mesh = sharding.make_mesh(config)
  sharding.check_batch_fits(config, mesh)
  abstract = registry.abstract_train_state(config, mesh)
  rng = np.random.default_rng(0)
  s, c, t = config.image_size, config.channels, config.video_length
  batch = {
      "video": rng.integers(0, 256, (config.video_batch, t, s, s, c), dtype=np.uint8),
      "label": rng.integers(0, max(config.n_categories, 1), (config.video_batch,), dtype=np.int32),
      "image": rng.integers(0, 256, (config.image_batch, s, s, c), dtype=np.uint8),
  }
  batch = jax.device_put(batch, sharding.batch_sharding(mesh))
  step = registry.jit_train_step(config, abstract, mesh)

  start = time.perf_counter()
  compiled = step.lower(abstract, batch, jax.random.key(0)).compile()
  compile_time = time.perf_counter() - start
  flops = float((compiled.cost_analysis() or {}).get("flops", 0.0))
  memory = compiled.memory_analysis()
  memory = {f"memory_{k}_mb": round(getattr(memory, f"{k}_size_in_bytes") / 2**20, 1)
            for k in ("argument", "output", "temp", "generated_code")} if memory else {}
  if args.compile_only:
    print(json.dumps({"config": args.config, "overrides": args.overrides,
                      "device": f"{jax.device_count()}x {jax.devices()[0].device_kind}",
                      "mesh": dict(mesh.shape), "compile_time_s": round(compile_time, 3),
                      **memory}))
    return
  state = registry.jit_create_train_state(config, abstract)(jax.random.key(0))

  times = []
  for i in range(args.warmup + args.steps):
    start = time.perf_counter()
    state, metrics = compiled(state, batch, jax.random.key(i))
    jax.block_until_ready((state, metrics))
    if i >= args.warmup:
      times.append(time.perf_counter() - start)

  median = statistics.median(times)
  deciles = (statistics.quantiles(times, n=10, method="inclusive") if len(times) >= 2
             else [median] * 9)
  result = {
      "config": args.config,
      "overrides": args.overrides,
      "device": f"{jax.device_count()}x {jax.devices()[0].device_kind}",
      "backend": jax.default_backend(),
      "conv_impl": config.conv_impl,
      "dtype": config.dtype,
      "image_size": s, "video_length": t,
      "image_batch": config.image_batch, "video_batch": config.video_batch,
      "compile_time_s": round(compile_time, 3),
      "step_time_s_median": round(median, 5),
      "step_time_s_p10": round(deciles[0], 5),
      "step_time_s_p90": round(deciles[-1], 5),
      "videos_per_s": round(config.video_batch / median, 3),
      "frames_per_s": round((config.video_batch * t + config.image_batch) / median, 2),
      "flops_per_step": flops,
      "tflops_per_s": round(flops / median / 1e12, 3),
      "fraction_of_peak": round(flops / median / 1e12 / args.peak_tflops, 4)
                          if args.peak_tflops else None,
      "timed_steps": args.steps,
      "mesh": dict(mesh.shape),
      **memory,
  }
  for key in ("device", "compile_time_s", "step_time_s_median", "step_time_s_p10",
              "step_time_s_p90", "videos_per_s", "frames_per_s", "tflops_per_s"):
    print(f"{key:20s} {result[key]}")
  print(json.dumps(result))


if __name__ == "__main__":
  main()

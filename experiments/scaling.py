"""The sharded program's cost: step time on 1 vs 8 devices, memory per device
with and without the fsdp axis.

    .venv/bin/python experiments/scaling.py [--devices 8] [--steps 10]

Each measurement is experiments/benchmark_train_step.py in a fresh process
(the device count is fixed when JAX starts; on the CPU it is forced with
XLA_FLAGS=--xla_force_host_platform_device_count=N). Prints two markdown
tables, the numbers of experiments/RESULTS.md's "Scale-out" section:

1. Step time for the same global batch on 1, 2 and N devices. On one CPU the
   N devices share the same cores, so this is the overhead of the sharded
   program (collectives, smaller per-device convolutions), not a speed-up.
2. Memory per device of the compiled step (XLA's memory analysis: arguments =
   state + batch, temporaries = activations and gradients) at 64, 128 and 256
   pixels, with every device holding all parameters (mesh_fsdp=1) and with
   parameters and optimiser state split over all N (mesh_fsdp=N). Compiled
   for the accelerator path (conv_impl=native) and only compiled, not run.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Global batches divisible by 8 devices.
TIMED = [("demo", []), ("shapes_64", ["image_batch=16", "video_batch=8"])]
MEMORY_BATCH = ["image_batch=32", "video_batch=8"]  # 4 images and 1 clip per device at 8


def benchmark(devices: int, args: list[str]) -> dict:
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "experiments", "benchmark_train_step.py"), *args],
      env=env, capture_output=True, text=True, cwd=ROOT)
  if result.returncode:
    sys.exit(f"benchmark failed for {devices} devices {args}:\n{result.stderr[-2000:]}")
  return json.loads(result.stdout.strip().splitlines()[-1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--devices", type=int, default=8)
  parser.add_argument("--steps", type=int, default=10)
  args = parser.parse_args()
  n = args.devices

  print(f"| config | global batch (images / clips) | devices | compile (s) | step median (s) "
        f"| p10-p90 (s) | ratio to 1 device |")
  print("|---|---|---|---|---|---|---|")
  for config, overrides in TIMED:
    base = None
    for devices in sorted({1, 2, n}):
      r = benchmark(devices, ["--config", config, "--steps", str(args.steps), *overrides])
      base = base or r["step_time_s_median"]
      print(f"| {config} | {r['image_batch']} / {r['video_batch']} | {devices} "
            f"| {r['compile_time_s']:.1f} | {r['step_time_s_median']:.3f} "
            f"| {r['step_time_s_p10']:.3f}-{r['step_time_s_p90']:.3f} "
            f"| {r['step_time_s_median'] / base:.2f} |", flush=True)

  print()
  print(f"| image size | parameters (G + D_I + D_V) | mesh (data x fsdp) | arguments (MiB) "
        f"| temporaries (MiB) | total per device (MiB) |")
  print("|---|---|---|---|---|---|")
  for size in (64, 128, 256):
    info = subprocess.run([sys.executable, "-m", "mocogan_jax.cli", "info", "--config",
                           "shapes_64", "--json", f"image_size={size}"],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    params = sum(v for k, v in json.loads(info.stdout)["parameters"].items() if k != "motion_rnn")
    for fsdp in (1, n):
      r = benchmark(n, ["--config", "shapes_64", "--compile_only", f"image_size={size}",
                        f"mesh_fsdp={fsdp}", "conv_impl=native", *MEMORY_BATCH])
      total = r["memory_argument_mb"] + r["memory_temp_mb"]
      print(f"| {size} | {params / 1e6:.1f} M | {r['mesh']['data']} x {r['mesh']['fsdp']} "
            f"| {r['memory_argument_mb']:.1f} | {r['memory_temp_mb']:.1f} | {total:.1f} |",
            flush=True)


if __name__ == "__main__":
  main()

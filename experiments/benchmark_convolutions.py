"""Times each convolution of the official networks: XLA's native form, the CPU form, PyTorch.

    .venv/bin/python experiments/benchmark_convolutions.py [--repeats 3] \\
        [--torch-python /tmp/torchenv/bin/python]

Each row: forward + backward (w.r.t. input and kernel) of sum(sin(conv(x, w)))
at the shapes of one layer at the official defaults (58 generator frames =
image batch 10 + video batch 3 x 16; discriminator batch 10 images or 3
clips), median of --repeats runs after one warm-up, jitted in JAX. "cpu form"
is what conv_impl=auto uses on the CPU (models/layers.py). With
--torch-python (any Python with torch and numpy) the same layers run in
PyTorch too, in that interpreter, so the table shows which operations XLA:CPU
does slower than PyTorch's CPU kernels. Prints a Markdown table.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

# (name, kind, stride, padding, input shape NHWC / NTHWC, kernel shape HWIO / THWIO)
LAYERS = [
    ("ConvT 1x1 -> 4x4, 66 -> 512", "convT", 1, 0, (58, 1, 1, 66), (4, 4, 66, 512)),
    ("ConvT 4 -> 8, 512 -> 256", "convT", 2, 1, (58, 4, 4, 512), (4, 4, 512, 256)),
    ("ConvT 8 -> 16, 256 -> 128", "convT", 2, 1, (58, 8, 8, 256), (4, 4, 256, 128)),
    ("ConvT 16 -> 32, 128 -> 64", "convT", 2, 1, (58, 16, 16, 128), (4, 4, 128, 64)),
    ("ConvT 32 -> 64, 64 -> 3", "convT", 2, 1, (58, 32, 32, 64), (4, 4, 64, 3)),
    ("Conv s2 64 -> 32, 3 -> 64", "conv", 2, 1, (10, 64, 64, 3), (4, 4, 3, 64)),
    ("Conv s2 32 -> 16, 64 -> 128", "conv", 2, 1, (10, 32, 32, 64), (4, 4, 64, 128)),
    ("Conv s2 16 -> 8, 128 -> 256", "conv", 2, 1, (10, 16, 16, 128), (4, 4, 128, 256)),
] + [
    (f"Conv3d T{t} {s} -> {s // 2}, {c} -> {o}", "conv3d", 2, 1, (3, t, s, s, c), (4, 4, 4, c, o))
    for t, s, c, o in ((16, 64, 3, 64), (13, 32, 64, 128), (10, 16, 128, 256), (7, 8, 256, 512))
]


def _median_ms(run, repeats):
  run()  # warm-up: compilation, allocators
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
  return 1e3 * statistics.median(times)


def jax_ms(kind, stride, padding, x_shape, w_shape, impl, repeats):
  import jax
  import jax.numpy as jnp
  from mocogan_jax.models import layers
  conv = {"convT": lambda x, w: layers.conv_transpose2d(x, w, stride, padding, impl),
          "conv": lambda x, w: layers.conv2d(x, w, stride, padding, impl),
          "conv3d": lambda x, w: layers.conv3d(x, w, (1, stride, stride), (0, padding, padding),
                                               impl)}[kind]
  grad = jax.jit(jax.grad(lambda x, w: jnp.sum(jnp.sin(conv(x, w))), argnums=(0, 1)))
  x = jax.random.normal(jax.random.key(0), x_shape)
  w = 0.02 * jax.random.normal(jax.random.key(1), w_shape)
  return _median_ms(lambda: jax.block_until_ready(grad(x, w)), repeats)


def torch_ms(kind, stride, padding, x_shape, w_shape, repeats):
  """The same layer in PyTorch (channels first; its own kernel layout)."""
  import torch
  channels_first = (x_shape[0], x_shape[-1]) + tuple(x_shape[1:-1])
  x = torch.randn(channels_first, requires_grad=True)
  c_in, c_out, k = w_shape[-2], w_shape[-1], w_shape[0]
  if kind == "convT":
    w = torch.randn(c_in, c_out, k, k) * 0.02
    conv = lambda x, w: torch.nn.functional.conv_transpose2d(x, w, stride=stride, padding=padding)
  elif kind == "conv":
    w = torch.randn(c_out, c_in, k, k) * 0.02
    conv = lambda x, w: torch.nn.functional.conv2d(x, w, stride=stride, padding=padding)
  else:
    w = torch.randn(c_out, c_in, k, k, k) * 0.02
    conv = lambda x, w: torch.nn.functional.conv3d(x, w, stride=(1, stride, stride),
                                                   padding=(0, padding, padding))
  w.requires_grad_(True)

  def run():
    x.grad = w.grad = None
    torch.sin(conv(x, w)).sum().backward()
  return _median_ms(run, repeats)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--torch-python", help="a Python with torch: add PyTorch's times")
  parser.add_argument("--torch-side", action="store_true", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.torch_side:  # in the torch interpreter: one JSON list of times
    print(json.dumps([torch_ms(*layer[1:], args.repeats) for layer in LAYERS]))
    return
  torch_times = [None] * len(LAYERS)
  if args.torch_python:
    done = subprocess.run([args.torch_python, __file__, "--torch-side", "--repeats",
                           str(args.repeats)], capture_output=True, text=True, check=True)
    torch_times = json.loads(done.stdout.strip().splitlines()[-1])
  import jax
  print(f"backend: {jax.default_backend()}, cpu form = conv_impl 'matmul'\n")
  print("| layer | native (ms) | cpu form (ms) | PyTorch (ms) | cpu form / PyTorch |\n"
        "|---|---|---|---|---|")
  for (name, *spec), torch_time in zip(LAYERS, torch_times):
    native = jax_ms(*spec, "native", args.repeats)
    cpu = jax_ms(*spec, "matmul", args.repeats)
    ratio = f"{cpu / torch_time:.2f}" if torch_time else ""
    torch_cell = f"{torch_time:.1f}" if torch_time else ""
    print(f"| {name} | {native:.1f} | {cpu:.1f} | {torch_cell} | {ratio} |", flush=True)


if __name__ == "__main__":
  sys.exit(main())

"""Times each convolution of the official networks, XLA's native form vs the CPU form.

    .venv/bin/python experiments/benchmark_convolutions.py [--repeats 3]

Each row: forward + backward (w.r.t. input and kernel) of sum(sin(conv(x, w)))
at the shapes of one layer at the official defaults (58 generator frames =
image batch 10 + video batch 3 x 16; discriminator batch 10 images or 3
clips), jitted, median of --repeats runs after one warm-up. "cpu form" is what
conv_impl=auto uses on the CPU (models/layers.py). Prints a Markdown table.
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

from mocogan_jax.models import layers

T = layers.conv_transpose2d
LAYERS = [
    ("ConvT 1x1 -> 4x4, 66 -> 512", lambda x, w, i: T(x, w, 1, 0, i), (58, 1, 1, 66), (4, 4, 66, 512)),
    ("ConvT 4 -> 8, 512 -> 256", lambda x, w, i: T(x, w, 2, 1, i), (58, 4, 4, 512), (4, 4, 512, 256)),
    ("ConvT 16 -> 32, 128 -> 64", lambda x, w, i: T(x, w, 2, 1, i), (58, 16, 16, 128), (4, 4, 128, 64)),
    ("ConvT 32 -> 64, 64 -> 3", lambda x, w, i: T(x, w, 2, 1, i), (58, 32, 32, 64), (4, 4, 64, 3)),
    ("Conv s2 64 -> 32, 3 -> 64", lambda x, w, i: layers.conv2d(x, w, 2, 1, i), (10, 64, 64, 3), (4, 4, 3, 64)),
    ("Conv s2 32 -> 16, 64 -> 128", lambda x, w, i: layers.conv2d(x, w, 2, 1, i), (10, 32, 32, 64), (4, 4, 64, 128)),
] + [
    (f"Conv3d T{t} {s} -> {s // 2}, {c} -> {o}",
     lambda x, w, i: layers.conv3d(x, w, (1, 2, 2), (0, 1, 1), i), (3, t, s, s, c), (4, 4, 4, c, o))
    for t, s, c, o in ((16, 64, 3, 64), (13, 32, 64, 128), (10, 16, 128, 256), (7, 8, 256, 512))
]


def time_ms(fn, x, w, repeats):
  grad = jax.jit(jax.grad(lambda x, w: jnp.sum(jnp.sin(fn(x, w))), argnums=(0, 1)))
  jax.block_until_ready(grad(x, w))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(grad(x, w))
    times.append(time.perf_counter() - start)
  return 1e3 * statistics.median(times)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()
  print(f"backend: {jax.default_backend()}, cpu form = conv_impl 'matmul'\n")
  print("| layer | native (ms) | cpu form (ms) |\n|---|---|---|")
  for name, fn, x_shape, w_shape in LAYERS:
    x = jax.random.normal(jax.random.key(0), x_shape)
    w = 0.02 * jax.random.normal(jax.random.key(1), w_shape)
    native = time_ms(lambda x, w: fn(x, w, "native"), x, w, args.repeats)
    cpu = time_ms(lambda x, w: fn(x, w, "matmul"), x, w, args.repeats)
    print(f"| {name} | {native:.1f} | {cpu:.1f} |", flush=True)


if __name__ == "__main__":
  main()

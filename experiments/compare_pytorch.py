"""Side-by-side iteration time: the official MoCoGAN iteration in PyTorch vs ours.

    TORCH_PYTHON experiments/compare_pytorch.py --jax-python .venv/bin/python [--steps 5]
    python3 experiments/compare_pytorch.py --device cuda --compile   # on a GPU machine

TORCH_PYTHON is any Python with torch (CPU) and numpy, e.g. a venv made with
`python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy`;
the JAX side runs in the project's .venv through benchmark_train_step.py.

The PyTorch side is this project's own transcription of the official
architecture (sergeytulyakov/mocogan src/models.py, defaults: ngf = ndf = 64,
patch image D, categorical video D) and of one official iteration (image-D,
video-D and generator updates with Adam), written from the architecture
description in ../shared/reference/official-mocogan.md, with the same batch
sizes. It checks its parameter counts against the official ones, so both sides
do the same arithmetic. Run on an idle machine: both sides use every core.
With --device cuda the PyTorch side runs on the GPU (and JAX on its default
device, the same GPU); --compile wraps the three networks in torch.compile.
Ends with one JSON line.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def torch_iteration_times(image_batch, video_batch, length, steps, device="cpu", compile=False,
                          warmup=1):
  import torch
  from torch import nn

  torch.set_default_device(device)  # every tensor and parameter below
  sync = torch.cuda.synchronize if device == "cuda" else lambda: None

  ngf = ndf = 64
  dz, dm, k = 50, 10, 6

  def down(cin, cout, bn, conv=nn.Conv2d, bnorm=nn.BatchNorm2d, **kw):
    layers = [conv(cin, cout, 4, bias=False, **kw)]
    layers += [bnorm(cout)] if bn else []
    return layers + [nn.LeakyReLU(0.2, inplace=True)]

  image_g = nn.Sequential(
      nn.ConvTranspose2d(dz + k + dm, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
      nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
      nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
      nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
      nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh())
  gru = nn.GRUCell(dm, dm)
  image_d = nn.Sequential(
      *down(3, ndf, False, stride=2, padding=1), *down(ndf, ndf * 2, True, stride=2, padding=1),
      *down(ndf * 2, ndf * 4, True, stride=2, padding=1),
      nn.Conv2d(ndf * 4, 1, 4, 2, 1, bias=False))
  v = dict(conv=nn.Conv3d, bnorm=nn.BatchNorm3d, stride=(1, 2, 2), padding=(0, 1, 1))
  video_d = nn.Sequential(
      *down(3, ndf, False, **v), *down(ndf, ndf * 2, True, **v),
      *down(ndf * 2, ndf * 4, True, **v), *down(ndf * 4, ndf * 8, True, **v),
      nn.Conv3d(ndf * 8, 1 + k, 4, 1, 0, bias=False))
  count = lambda *ms: sum(p.numel() for m in ms for p in m.parameters())
  assert count(image_g, gru) == 3_298_836 and count(image_d) == 663_296
  assert count(video_d) == 11_253_504

  def latents(n, t):
    content = torch.randn(n, 1, dz).expand(n, t, dz)
    category = torch.randint(k, (n,))
    one_hot = nn.functional.one_hot(category, k).float()[:, None].expand(n, t, k)
    h, motion = torch.randn(n, dm), []
    for _ in range(t):
      h = gru(torch.randn(n, dm), h)
      motion.append(h)
    z = torch.cat([content, one_hot, torch.stack(motion, 1)], -1)
    return z.reshape(n * t, -1, 1, 1), category

  def fake_videos(n):
    z, category = latents(n, length)
    frames = image_g(z).reshape(n, length, 3, 64, 64)
    return frames.permute(0, 2, 1, 3, 4), category

  def fake_images(n):
    z, _ = latents(n, length)
    pick = torch.randint(length, (n,)) + torch.arange(n) * length
    return image_g(z[pick])

  bce, ce = nn.BCEWithLogitsLoss(), nn.CrossEntropyLoss()
  adam = lambda *ms: torch.optim.Adam([p for m in ms for p in m.parameters()], lr=2e-4,
                                      betas=(0.5, 0.999), weight_decay=1e-5)
  opt_g, opt_di, opt_dv = adam(image_g, gru), adam(image_d), adam(video_d)
  if compile:  # the optimisers hold the same parameters
    image_g, image_d, video_d = map(torch.compile, (image_g, image_d, video_d))
  real_images = torch.rand(image_batch, 3, 64, 64) * 2 - 1
  real_videos = torch.rand(video_batch, 3, length, 64, 64) * 2 - 1
  real_labels = torch.randint(k, (video_batch,))

  def video_logits(x):
    out = video_d(x).flatten(1)
    return out[:, :1], out[:, 1:]

  times = []
  for i in range(warmup + steps):
    sync()
    start = time.perf_counter()
    opt_di.zero_grad()
    real, fake = image_d(real_images), image_d(fake_images(image_batch).detach())
    (bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))).backward()
    opt_di.step()
    opt_dv.zero_grad()
    (real, real_cat), (fake, _) = video_logits(real_videos), video_logits(fake_videos(video_batch)[0].detach())
    (bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake)) + ce(real_cat, real_labels)).backward()
    opt_dv.step()
    opt_g.zero_grad()
    fake_i = image_d(fake_images(image_batch))
    fake_v, _ = video_logits(fake_videos(video_batch)[0])
    (bce(fake_i, torch.ones_like(fake_i)) + bce(fake_v, torch.ones_like(fake_v))).backward()
    opt_g.step()
    sync()
    if i >= warmup:  # allocators, autotuning and torch.compile's traces
      times.append(time.perf_counter() - start)
  return times


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="shapes_64")
  parser.add_argument("--steps", type=int, default=5)
  parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
  parser.add_argument("--compile", action="store_true", help="torch.compile the networks")
  parser.add_argument("--jax-result", help="a file whose last line is benchmark_train_step.py's "
                      "JSON for the same config, instead of running it again")
  parser.add_argument("--jax-python", default=sys.executable,
                      help="the Python of the project's environment")
  args = parser.parse_args()
  info = subprocess.run(
      [args.jax_python, "-c", "import json, sys; from mocogan_jax import config as c; "
       "k = c.resolve(sys.argv[1]); print(json.dumps([k.image_batch, k.video_batch, "
       "k.video_length, k.image_size, k.ngf, k.ndf]))", args.config],
      capture_output=True, text=True, check=True)
  image_batch, video_batch, length, size, ngf, ndf = json.loads(info.stdout)
  if (size, ngf, ndf) != (64, 64, 64):
    sys.exit(f"{args.config}: the PyTorch side is the official 64x64, ngf = ndf = 64 network")
  import torch
  torch_times = torch_iteration_times(image_batch, video_batch, length, args.steps, args.device,
                                      args.compile, warmup=3 if args.compile else 1)
  if args.jax_result:
    with open(args.jax_result) as f:
      ours = json.loads(f.read().strip().splitlines()[-1])
  else:
    bench = os.path.join(os.path.dirname(os.path.abspath(__file__)), "benchmark_train_step.py")
    out = subprocess.run([args.jax_python, bench, "--config", args.config, "--steps",
                          str(args.steps)], capture_output=True, text=True, check=True)
    ours = json.loads(out.stdout.strip().splitlines()[-1])
  result = {
      "config": args.config,
      "torch_version": torch.__version__,
      "torch_device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
      "torch_compile": args.compile,
      "torch_threads": torch.get_num_threads(),
      "jax_device": ours["device"],
      "torch_iteration_s_median": round(statistics.median(torch_times), 3),
      "jax_iteration_s_median": ours["step_time_s_median"],
      "jax_compile_time_s": ours["compile_time_s"],
      "speedup": round(statistics.median(torch_times) / ours["step_time_s_median"], 2),
  }
  print(json.dumps(result))


if __name__ == "__main__":
  main()

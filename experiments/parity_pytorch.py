"""One MoCoGAN iteration in JAX and in PyTorch from the same weights, latents
and batch: do the updated parameters agree?

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    .venv/bin/python experiments/parity_pytorch.py --torch-python /tmp/torchenv/bin/python

The JAX side is `mocogan.train_step`, run eagerly once on a fixed batch, with
the latents and frame choices it draws recorded. The PyTorch side is this
project's own transcription of the official iteration (sergeytulyakov/mocogan
src/trainers.py as described in ../shared/reference/official-mocogan.md):
torch.nn layers, BatchNorm in training mode with PyTorch's running averages,
BCEWithLogitsLoss and CrossEntropyLoss means, torch.optim.Adam(lr, betas,
weight_decay), image-D, then video-D, then G on fresh fakes, the D forwards of
the G step in training mode. It starts from the JAX initial weights (layouts
converted) and is fed the recorded latents, so both sides compute the same
arithmetic in float32.

Prints, for each network, the largest difference of any parameter, of any
BatchNorm running mean and running variance after one iteration (the variances
differ by design: PyTorch averages the unbiased batch variance), and of the
Adam step (new - old) / lr. Exits 1 if a parameter differs by more than
--tolerance.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

# The networks the check runs: the official layer structure (64x64, T = 16,
# patch image D, categorical video D, 6 categories, InfoGAN term) at a width
# that runs in seconds on a CPU.
OVERRIDES = dict(image_size=64, video_length=16, every_nth=2, ngf=8, ndf=8, dim_z_content=10,
                 dim_z_motion=4, n_categories=6, image_batch=4, video_batch=2, use_infogan=True,
                 use_categories=True, noise_sigma=0.0, dataset="shape_motion/64")


def run_jax(out: str, data_dir: str) -> None:
  import jax
  from mocogan_jax.models import mocogan
  from mocogan_jax.config import Config
  from mocogan_jax.data import pipeline

  config = Config(data_dir=data_dir, **OVERRIDES)
  state = mocogan.create_train_state(config, jax.random.key(0))
  batch = pipeline.make_batch(pipeline.load_source(config), config, step=0)

  recorded = []
  sample_latents, randint = mocogan.sample_latents, jax.random.randint

  def record_latents(key, config, n, t):
    latents = sample_latents(key, config, n, t)
    recorded.append(("latents", {k: np.asarray(v) for k, v in latents.items()}))
    return latents

  def record_randint(key, shape, minval, maxval, *a, **kw):
    value = randint(key, shape, minval, maxval, *a, **kw)
    if shape == (config.image_batch,) and maxval == config.video_length:
      recorded.append(("frames", np.asarray(value)))
    return value

  mocogan.sample_latents = record_latents
  jax.random.randint = record_randint
  try:
    with jax.disable_jit():
      new_state, metrics = mocogan.train_step(state, batch, jax.random.key(1))
  finally:
    mocogan.sample_latents, jax.random.randint = sample_latents, randint

  flat = {}
  def put(prefix, tree):
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
      flat[prefix + "/" + "/".join(str(getattr(p, "key", p)) for p in path)] = np.asarray(leaf)
  for name in ("generator", "image_discriminator", "video_discriminator"):
    put(f"before/{name}", getattr(state, name).variables)
    put(f"after/{name}", getattr(new_state, name).variables)
  for i, (kind, value) in enumerate(recorded):
    if kind == "frames":
      flat[f"draw/{i}/frames"] = value
    else:
      for k, v in value.items():
        flat[f"draw/{i}/{k}"] = v
  for k in ("video", "label", "image"):
    flat[f"batch/{k}"] = np.asarray(batch[k])
  flat["metrics"] = np.asarray(json.dumps({k: float(v) for k, v in metrics.items()}))
  np.savez(out, **flat)
  print(f"JAX: one iteration, {len(recorded)} draws recorded", flush=True)


def run_torch(path: str) -> dict:
  import torch
  from torch import nn

  torch.use_deterministic_algorithms(True)
  data = dict(np.load(path))
  c = OVERRIDES
  t, k = c["video_length"], c["n_categories"]
  ngf, ndf = c["ngf"], c["ndf"]
  dz = c["dim_z_content"] + k + c["dim_z_motion"]
  dm = c["dim_z_motion"]
  lr, betas, wd = 2e-4, (0.5, 0.999), 1e-5

  def g_layers():
    widths = [ngf * 8, ngf * 4, ngf * 2, ngf]
    layers, cin = [], dz
    for i, w in enumerate(widths):
      layers += [nn.ConvTranspose2d(cin, w, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False),
                 nn.BatchNorm2d(w), nn.ReLU()]
      cin = w
    return nn.Sequential(*layers, nn.ConvTranspose2d(cin, 3, 4, 2, 1, bias=False), nn.Tanh())

  def d_layers(conv, bnorm, widths, last, **kw):
    layers, cin = [], 3
    for i, w in enumerate(widths):
      layers.append(conv(cin, w, 4, bias=False, **kw))
      if i:
        layers.append(bnorm(w))
      layers.append(nn.LeakyReLU(0.2))
      cin = w
    return nn.Sequential(*layers, last(cin))

  image_g, gru = g_layers(), nn.GRUCell(dm, dm)
  image_d = d_layers(nn.Conv2d, nn.BatchNorm2d, [ndf, ndf * 2, ndf * 4],
                     lambda cin: nn.Conv2d(cin, 1, 4, 2, 1, bias=False), stride=2, padding=1)
  video_d = d_layers(nn.Conv3d, nn.BatchNorm3d, [ndf, ndf * 2, ndf * 4, ndf * 8],
                     lambda cin: nn.Conv3d(cin, 1 + k, 4, 1, 0, bias=False),
                     stride=(1, 2, 2), padding=(0, 1, 1))

  # --- JAX variables -> torch modules ---------------------------------------------
  def paired(seq, prefix, stage):
    """The torch convs and BatchNorms of `seq`, each with its Flax key prefix
    (kernels "<...>/kernel", BN layers "<...>" holding scale/bias), in depth order."""
    convs = [m for m in seq if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d))]
    norms = [m for m in seq if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d))]
    params = f"{stage}/{prefix}params/"
    kernels = sorted((k for k in data if k.startswith(params) and k.endswith("/kernel")),
                     key=_layer_index)
    norm_keys = sorted({k.rsplit("/", 1)[0] for k in data
                        if k.startswith(params) and k.endswith("/scale")}, key=_layer_index)
    assert len(kernels) == len(convs) and len(norm_keys) == len(norms), (prefix, kernels, norm_keys)
    return list(zip(convs, kernels)), list(zip(norms, norm_keys))

  def load(seq, prefix, stage):
    convs, norms = paired(seq, prefix, stage)
    for m, key in convs:
      w = data[key]
      if isinstance(m, nn.ConvTranspose2d):  # (k, k, C, O) -> (C, O, k, k)
        w = w.transpose(2, 3, 0, 1)
      elif w.ndim == 4:  # (k, k, C, O) -> (O, C, k, k)
        w = w.transpose(3, 2, 0, 1)
      else:  # (k, k, k, C, O) -> (O, C, k, k, k)
        w = w.transpose(4, 3, 0, 1, 2)
      m.weight.data = torch.tensor(np.ascontiguousarray(w))
    for m, key in norms:
      stats = key.replace("/params/", "/batch_stats/")
      m.weight.data = torch.tensor(data[key + "/scale"])
      m.bias.data = torch.tensor(data[key + "/bias"])
      m.running_mean.data = torch.tensor(data[stats + "/mean"])
      m.running_var.data = torch.tensor(data[stats + "/var"])

  load(image_g, "generator/", "before")
  load(image_d, "image_discriminator/", "before")
  load(video_d, "video_discriminator/", "before")
  rnn = "before/generator/params/motion_rnn/"
  gru.weight_ih.data = torch.tensor(data[rnn + "w_ih"].T.copy())
  gru.weight_hh.data = torch.tensor(data[rnn + "w_hh"].T.copy())
  gru.bias_ih.data = torch.tensor(data[rnn + "b_ih"])
  gru.bias_hh.data = torch.tensor(data[rnn + "b_hh"])

  # --- The recorded draws, in the order train_step made them -----------------------
  draws = sorted({int(key.split("/")[1]) for key in data if key.startswith("draw/")})
  queue = []
  for i in draws:
    if f"draw/{i}/frames" in data:
      queue.append(("frames", data[f"draw/{i}/frames"]))
    else:
      queue.append(("latents", {n: torch.tensor(data[f"draw/{i}/{n}"])
                                for n in ("content", "category", "h0", "eps")}))
  queue = iter(queue)

  def frame_latents(lat):
    n = lat["content"].shape[0]
    h, motion = lat["h0"], []
    for step in range(t):
      h = gru(lat["eps"][:, step], h)
      motion.append(h)
    one_hot = nn.functional.one_hot(lat["category"].long(), k).float()
    z = torch.cat([lat["content"][:, None].expand(n, t, -1), one_hot[:, None].expand(n, t, k),
                   torch.stack(motion, 1)], -1)
    return z  # (N, T, dz)

  def fake_images():
    kind, lat = next(queue)
    assert kind == "latents"
    kind, frames = next(queue)
    assert kind == "frames"
    z = frame_latents(lat)[torch.arange(len(frames)), torch.tensor(frames).long()]
    return image_g(z[:, :, None, None])

  def fake_videos():
    kind, lat = next(queue)
    assert kind == "latents"
    z = frame_latents(lat)
    n = z.shape[0]
    frames = image_g(z.reshape(n * t, -1, 1, 1))
    return frames.reshape(n, t, 3, *frames.shape[2:]).permute(0, 2, 1, 3, 4), lat["category"]

  def video_logits(x):
    out = video_d(x).flatten(1)
    return out[:, :1], out[:, 1:]

  as_float = lambda x: torch.tensor(x.astype(np.float32) / 127.5 - 1.0)
  real_images = as_float(data["batch/image"]).permute(0, 3, 1, 2)
  real_videos = as_float(data["batch/video"]).permute(0, 4, 1, 2, 3)
  labels = torch.tensor(data["batch/label"]).long()

  bce, ce = nn.BCEWithLogitsLoss(), nn.CrossEntropyLoss()
  adam = lambda *ms: torch.optim.Adam([p for m in ms for p in m.parameters()], lr=lr, betas=betas,
                                      weight_decay=wd)
  opt_g, opt_di, opt_dv = adam(image_g, gru), adam(image_d), adam(video_d)
  for m in (image_g, gru, image_d, video_d):
    m.train()

  opt_di.zero_grad()
  fake = fake_images().detach()
  real_logits, fake_logits = image_d(real_images), image_d(fake)
  (bce(real_logits, torch.ones_like(real_logits)) +
   bce(fake_logits, torch.zeros_like(fake_logits))).backward()
  opt_di.step()

  opt_dv.zero_grad()
  fake, _ = fake_videos()
  (real, real_cat), (fake, _) = video_logits(real_videos), video_logits(fake.detach())
  (bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake)) +
   ce(real_cat, labels)).backward()
  opt_dv.step()

  opt_g.zero_grad()
  images = fake_images()
  videos, categories = fake_videos()
  fake_i = image_d(images)
  fake_v, fake_cat = video_logits(videos)
  (bce(fake_i, torch.ones_like(fake_i)) + bce(fake_v, torch.ones_like(fake_v)) +
   ce(fake_cat, categories.long())).backward()
  opt_g.step()

  # --- Compare ------------------------------------------------------------------
  def compare(seq, prefix):
    worst = {"param": 0.0, "mean": 0.0, "var": 0.0, "update": 0.0}
    convs, norms = paired(seq, prefix, "after")
    before = lambda key: data[key.replace("after/", "before/", 1)]
    for m, key in convs:
      w = m.weight.detach().numpy()
      w = (w.transpose(2, 3, 0, 1) if isinstance(m, nn.ConvTranspose2d)
           else w.transpose(2, 3, 1, 0) if w.ndim == 4 else w.transpose(2, 3, 4, 1, 0))
      track(worst, w, data[key], before(key))
    for m, key in norms:
      track(worst, m.weight.detach().numpy(), data[key + "/scale"], before(key + "/scale"))
      track(worst, m.bias.detach().numpy(), data[key + "/bias"], before(key + "/bias"))
      stats = key.replace("/params/", "/batch_stats/")
      # PyTorch keeps the unbiased batch variance in its running average, Flax
      # the biased one (docs/configs.md, "Differences from the official code"),
      # so the running variances differ by design; they are reported apart from
      # the means.
      worst["mean"] = max(worst["mean"], _diff(m.running_mean.numpy(), data[stats + "/mean"]))
      worst["var"] = max(worst["var"], _diff(m.running_var.numpy(), data[stats + "/var"]))
    return worst

  def track(worst, torch_value, jax_value, before):
    worst["param"] = max(worst["param"], _diff(torch_value, jax_value))
    step_t, step_j = (torch_value - before) / lr, (jax_value - before) / lr
    worst["update"] = max(worst["update"], _diff(step_t, step_j))

  result = {"generator": compare(image_g, "generator/"),
            "image_discriminator": compare(image_d, "image_discriminator/"),
            "video_discriminator": compare(video_d, "video_discriminator/")}
  rnn = "after/generator/params/motion_rnn/"
  g = result["generator"]
  for name, value in (("w_ih", gru.weight_ih.detach().numpy().T),
                      ("w_hh", gru.weight_hh.detach().numpy().T),
                      ("b_ih", gru.bias_ih.detach().numpy()), ("b_hh", gru.bias_hh.detach().numpy())):
    track(g, value, data[rnn + name], data[rnn.replace("after/", "before/") + name])
  return result


def _layer_index(key: str):
  """Orders Flax's auto-named layers (ConvTranspose2d_10 after _9) by depth."""
  parts = []
  for p in key.split("/"):
    name, _, number = p.rpartition("_")
    parts.append((name, int(number)) if number.isdigit() else (p, -1))
  return parts


def _diff(a, b) -> float:
  return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--torch-python", help="a Python with torch; omit inside that Python")
  parser.add_argument("--data_dir", default="")
  parser.add_argument("--tolerance", type=float, default=1e-5)
  parser.add_argument("--_torch_side", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args._torch_side:
    print(json.dumps(run_torch(args._torch_side)))
    return
  path = os.path.join(tempfile.mkdtemp(), "jax_iteration.npz")
  run_jax(path, args.data_dir)
  out = subprocess.run([args.torch_python or sys.executable, __file__, "--_torch_side", path],
                       check=True, stdout=subprocess.PIPE, text=True).stdout
  result = json.loads(out.strip().splitlines()[-1])
  print(f"{'network':<22} {'param':>9} {'BN mean':>9} {'BN var':>9} {'update / lr':>12}"
        "   (largest absolute differences)")
  worst = 0.0
  for name, r in result.items():
    print(f"{name:<22} {r['param']:>9.2e} {r['mean']:>9.2e} {r['var']:>9.2e} {r['update']:>12.2e}")
    worst = max(worst, r["param"])
  print(f"largest parameter difference {worst:.2e} (tolerance {args.tolerance:.0e})")
  sys.exit(0 if worst <= args.tolerance else 1)


if __name__ == "__main__":
  main()

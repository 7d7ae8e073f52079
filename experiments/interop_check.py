"""The largest differences between the official networks (this project's
PyTorch transcription, tests/official_torch.py) and ours given the same
weights, at the official defaults: experiments/RESULTS.md, "Official weights
in and out".

    .venv/bin/python experiments/interop_check.py     # needs the torch extra

Writes the three state_dicts to a temporary folder, times `mocogan-jax
import-torch` on them, then feeds 8 videos' latents, 8 images and 4 clips
through both sides for four seeds and prints the largest absolute difference
per network.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

import jax  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from mocogan_jax import export  # noqa: E402
from mocogan_jax.models import mocogan  # noqa: E402
from test_torch_interop import _official_networks  # noqa: E402


def main():
  generator, image_d, video_d = _official_networks()
  folder = tempfile.mkdtemp()
  files = {}
  for name, module in (("generator", generator), ("image_discriminator", image_d),
                       ("video_discriminator", video_d)):
    files[name] = os.path.join(folder, f"{name}.pth")
    torch.save(module.state_dict(), files[name])
  out = os.path.join(folder, "official.msgpack")
  start = time.time()
  subprocess.run([sys.executable, "-m", "mocogan_jax.cli", "import-torch",
                  *[f"--{k}={v}" for k, v in files.items()], "--out", out], check=True)
  print(f"import-torch: {time.time() - start:.1f} s")
  config, networks = export.load_networks(out)
  as_torch = lambda x: torch.tensor(np.asarray(x))
  worst = dict.fromkeys(files, 0.0)
  for seed in range(4):
    latents = mocogan.sample_latents(jax.random.key(seed), config, 8, 16)
    ours = mocogan.generator(config).apply(networks["generator"], latents, train=False)
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (8, 64, 64, 3)).astype(np.float32)
    clips = rng.uniform(-1, 1, (4, 16, 64, 64, 3)).astype(np.float32)
    ours_i, _ = mocogan.image_discriminator(config).apply(networks["image_discriminator"],
                                                          images, train=False)
    ours_v, ours_c = mocogan.video_discriminator(config).apply(
        networks["video_discriminator"], clips, train=False)
    with torch.no_grad():
      one_hot = torch.nn.functional.one_hot(as_torch(latents["category"]).long(), 6).float()
      theirs = generator.videos(as_torch(latents["content"]), one_hot, as_torch(latents["h0"]),
                                as_torch(latents["eps"])).permute(0, 2, 3, 4, 1)
      theirs_i, _ = image_d(as_torch(images).permute(0, 3, 1, 2))
      theirs_v, theirs_c = video_d(as_torch(clips).permute(0, 4, 1, 2, 3))
    diff = lambda a, b: float(np.abs(np.asarray(a).reshape(b.shape) - b.numpy()).max())
    worst["generator"] = max(worst["generator"], diff(ours, theirs))
    worst["image_discriminator"] = max(worst["image_discriminator"], diff(ours_i, theirs_i))
    worst["video_discriminator"] = max(worst["video_discriminator"], diff(ours_v, theirs_v),
                                       diff(ours_c, theirs_c))
  print(json.dumps({k: f"{v:.1e}" for k, v in worst.items()}))


if __name__ == "__main__":
  main()

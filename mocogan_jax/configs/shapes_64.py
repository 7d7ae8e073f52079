"""The official MoCoGAN defaults on shape_motion at 64x64.

    mocogan-jax train --config shapes_64 --workdir workdirs/shapes_64

Official train.py flags: image batch 10, video batch 3, 16 frames at stride 2,
patch image D, categorical video D, z = 50 content + 6 category + 10 motion,
ngf = ndf = 64, Adam 2e-4 (0.5, 0.999), weight decay 1e-5. Its speed on the CPU
and against PyTorch: experiments/RESULTS.md, "Side by side with PyTorch".
"""

from mocogan_jax.config import Config


def get_config() -> Config:
  return Config(dataset="shape_motion/64", image_size=64, num_steps=100_000)

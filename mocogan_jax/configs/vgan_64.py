"""VGAN (models/vgan.py) as published, on shape_motion at 64x64, 16 frames.

    mocogan-jax train --config vgan_64 --workdir workdirs/vgan_64

The published trainer's settings (cvondrick/videogan main.lua): z of 100
~ N(0, I), batch 64, Adam 2e-4 (0.5, 0.999), mask L1 weight 0.1; 16 frames
at stride 2 here (32 published), as MoCoGAN's comparison. The paper table at
the CPU demo's scale is experiments/paper_table.sh; its numbers are in
experiments/RESULTS.md, "The paper's table".
Expected at the CPU demo's scale (experiments/paper_table.sh: 32x32, 2950
steps): FVD 597, KVD 51.8, ACD 18.1, IS 3.07 at N = 256, behind MoCoGAN's
175 / 9.4 / 17.6 / 3.92 at the same budget. Not yet trained at 64x64 here.
"""

from mocogan_jax.config import Config


def get_config() -> Config:
  return Config(
      model="vgan", dataset="shape_motion/64", image_size=64, video_length=16,
      dim_z_content=100, n_categories=0, use_categories=False, video_batch=64, image_batch=1,
      weight_decay=0.0, num_steps=100_000)

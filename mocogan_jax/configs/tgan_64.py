"""TGAN (models/tgan.py) as published, on shape_motion at 64x64, 16 frames.

    mocogan-jax train --config tgan_64 --workdir workdirs/tgan_64

The published trainer's settings (pfnet-research/tgan, the WGAN-SVC
configs): z0 and z1 of 100, z0 ~ U(-1, 1), batch 32, RMSprop 5e-5, singular
value clipping every 5 steps. The paper table at the CPU demo's scale is
experiments/paper_table.sh; its numbers are in experiments/RESULTS.md,
"The paper's table".

Expected at the CPU demo's scale (experiments/paper_table.sh: 32x32, 2050
steps, 10 CPU minutes): not yet shapes: grey blotches, FVD 920, IS 1.00
(ACD 5.4 only because nothing moves); WGAN at 5e-5 needs far more steps.
Not yet trained at 64x64 here.
"""

from mocogan_jax.config import Config


def get_config() -> Config:
  return Config(
      model="tgan", dataset="shape_motion/64", image_size=64, video_length=16,
      dim_z_content=100, dim_z_motion=100, n_categories=0, use_categories=False,
      video_batch=32, image_batch=1, learning_rate=5e-5, weight_decay=0.0, num_steps=100_000)

"""A seconds-scale config for tests: 16x16, 8 frames, 8 channels.

    mocogan-jax train --config tiny --workdir /tmp/tiny

Exercises every code path (categories, InfoGAN, instance noise) with small
programs that compile fast on a CPU. Not meant to produce good videos.
"""

from mocogan_jax.config import Config


def get_config() -> Config:
  return Config(
      dataset="shape_motion/tiny16", image_size=16, video_length=8, every_nth=2,
      dim_z_content=8, dim_z_motion=4, n_categories=4, ngf=8, ndf=8,
      image_batch=4, video_batch=2, use_infogan=True, noise_sigma=0.1,
      num_steps=4, log_every=2, sample_every=4, checkpoint_every=4, num_samples=4)

"""The CPU demo: moving shapes in a few minutes on a laptop.

    mocogan-jax train --config demo --workdir workdirs/demo

shape_motion at 32x32, 8-frame clips taken every 4th frame (so each clip spans
the whole motion), ngf = ndf = 16, image batch 16, video batch 8, 2000 steps.
On 2 CPU cores: about 0.16 s per step, under 7 minutes in all; the samples
under workdirs/demo/samples/ show single shapes moving in straight lines.
"""

from mocogan_jax.config import Config


def get_config() -> Config:
  return Config(
      dataset="shape_motion/32", image_size=32, video_length=8, every_nth=4,
      ngf=16, ndf=16, image_batch=16, video_batch=8,
      num_steps=2000, log_every=50, sample_every=500, checkpoint_every=500, num_samples=16)

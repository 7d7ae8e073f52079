"""The published MoCoGAN recipe on shape_motion at 64x64.

    mocogan-jax train --config shapes_64_paper --workdir workdirs/shapes_64_paper

The README's command of the official code: image and video batch 32, InfoGAN
term on, instance noise sigma 0.1, every 2nd frame. Meant for an accelerator.
"""

from mocogan_jax.configs import shapes_64


def get_config():
  return shapes_64.get_config().replace(
      image_batch=32, video_batch=32, use_infogan=True, noise_sigma=0.1, every_nth=2)

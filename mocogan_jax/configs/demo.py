"""The CPU demo: shapes moving in straight lines after about 6 minutes on 2 cores.

    bash experiments/demo.sh        # = mocogan-jax train --config demo --workdir workdirs/demo

shape_motion at 32x32; 8-frame clips taken every 4th frame, so each clip spans
the whole motion. ngf = 32, ndf = 16, image batch 32, video batch 8, the
published recipe's InfoGAN term and instance noise (sigma 0.2 here, not 0.1),
Adam at 5e-4 instead of 2e-4, 2500 steps. These depart from the official
defaults because the demo has minutes, not days: with the official settings
(ngf = ndf = 16-32, lr 2e-4, sigma 0-0.1) the video discriminator overpowered
the generator and 1500-2000 steps gave colour-collapsed blobs.

Expected (measured from fresh clones on 2 cores: 6-7 min for the whole
`bash experiments/demo.sh`, of which 5.5-6 min training at about 7 steps/s):
the step-2500 grid in workdirs/demo/samples/ shows single shapes moving in
straight lines. Tracking each video's bright-pixel centroid
(experiments/measure_sample_motion.py), 12 of 16 moved 13-21 px along one axis
in each of three runs (12.9-20.9 px in the third; the data moves 18.7 px per
clip); the others were faint or faded in and out. The shapes are blurry, some
runs speckled, and colours are washed out (white, green, blue) and drift within
a video, which is what the ACD metric measures; longer runs (num_steps=10000)
are the way to better ones. GAN training is chaotic: a change that moves float
rounding (e.g. a different XLA fusion) gives a different run of the same kind.
"""

from mocogan_jax.config import Config


def get_config() -> Config:
  return Config(
      dataset="shape_motion/32", image_size=32, video_length=8, every_nth=4,
      ngf=32, ndf=16, image_batch=32, video_batch=8,
      use_infogan=True, noise_sigma=0.2, learning_rate=5e-4,
      num_steps=2500, log_every=50, sample_every=500, checkpoint_every=500, num_samples=16)

"""The CPU demo: coloured shapes moving in straight lines after about 10 minutes on 2 cores.

    bash experiments/demo.sh        # = mocogan-jax train --config demo --workdir workdirs/demo

shape_motion at 32x32; 8-frame clips taken every 4th frame, so each clip spans
the whole motion. ngf = 32, ndf = 16, image batch 32, video batch 8, the
published recipe's InfoGAN term and instance noise (sigma 0.2 here, not 0.1),
Adam at 5e-4 instead of 2e-4, 2500 steps. These depart from the official
defaults because the demo has minutes, not days: with the official settings
(ngf = ndf = 16-32, lr 2e-4, sigma 0-0.1) the video discriminator overpowered
the generator and 1500-2000 steps gave colour-collapsed blobs.

Three more departures, each measured in experiments/notes/why_the_videos_drift.md ("Why the
videos drift"): 4 categories, one per direction of the data (the official 6
leave two categories no real video has); discriminators without BatchNorm
(`discriminator_norm=none`: the official BatchNorm normalises real and fake
batches apart, which hid a colour drift every generated video shared, so
colours changed with time; without BatchNorm the convolutions have biases);
samples from a moving average of the generator (`ema_decay=0.999`).

Two more since commit 84c17e9 (2026-11-28) ("Content-modulated generator layers"): z_content
scales and shifts every BatchNorm output of the generator
(`content_modulation`), and the image discriminator keeps the official
BatchNorm (`image_discriminator_norm=batch`, D_V none), which makes the
generator draw colour from z_content. Before them every video was the same
whitish colour; `content_modulation=false image_discriminator_norm=` gives
that recipe back (the experiment scripts that reproduce older rows pin it).

Expected (experiments/RESULTS.md, "Demo run"): the step-2500 grid in
workdirs/demo/samples/ shows one shape per video moving in a straight line in
its category's direction, shapes of different colours, each keeping its
colour, with pixel-scale speckle. `experiments/quality.py`: colour spread by
content 29-43 (the data's about 55; the recipe before: 5-10), ACD 19-21 on
16-frame clips (the recipe before: 16.5-18.5, the official: 35-37).
GAN training is chaotic: a change that moves float rounding (e.g. a different
XLA fusion) gives a different run of the same kind.
"""

from mocogan_jax.config import Config


def get_config() -> Config:
  return Config(
      dataset="shape_motion/32", image_size=32, video_length=8, every_nth=4,
      n_categories=4, ngf=32, ndf=16, discriminator_norm="none",
      image_discriminator_norm="batch", content_modulation=True, image_batch=32,
      video_batch=8, use_infogan=True, noise_sigma=0.2, learning_rate=5e-4, ema_decay=0.999,
      num_steps=2500, log_every=50, sample_every=500, checkpoint_every=500, num_samples=16)

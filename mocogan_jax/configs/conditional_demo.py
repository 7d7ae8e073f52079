"""Conditional MoCoGAN (models/conditional.py) at the CPU demo's scale: the
future from the past on shape_motion at 32x32.

    mocogan-jax train --config conditional_demo --workdir workdirs/conditional_demo
    mocogan-jax predict --model conditional --workdir workdirs/conditional_demo \
        --dataset test --context 4 --length 16 --out predicted.gif

The demo's networks and recipe (configs/demo.py) on 16-frame clips at every
2nd frame, the prediction protocol's K = 4 context and 12 predicted frames;
loss weights adversarial 1, content (L1) 10, motion (optical flow) 1.
Ablations: one weight at 0 (e.g. motion_loss_weight=0).

Expected at num_steps=1500 (bash experiments/conditional_ablation.sh, about
12 min on 2 cores): PSNR about 18.4 dB and SSIM 0.64 over the 12 predicted
frames of 256 held-out clips, where copy-last-frame scores 14.9 dB / 0.548;
about 22.6 dB / 0.88 with adversarial_weight=0 (experiments/RESULTS.md,
"Conditional MoCoGAN: the loss terms").
"""

from mocogan_jax.configs import demo


def get_config():
  # The demo as it was when the numbers above were measured (before commit 84c17e9, 2026-11-28).
  return demo.get_config().replace(
      model="conditional", video_length=16, every_nth=2, context_frames=4,
      content_modulation=False, image_discriminator_norm="")

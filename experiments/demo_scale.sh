# Sourced by the experiment scripts.
# DEMO_BEFORE_MODULATION: the demo as it was before commit 84c17e9, 2026-11-28 (configs/demo.py
# has since taken content modulation and BatchNorm in the image discriminator);
# every script that reproduces an older row adds it.
DEMO_BEFORE_MODULATION="content_modulation=false image_discriminator_norm="
# The CPU demo's scale on 16-frame clips (paper_table.sh, attention_ablation.sh
# and prediction.sh), written once because each script reuses the others' runs
# (the same settings resume a finished run; different ones would be refused or
# train another).
DEMO_SCALE="image_size=32 video_length=16 ngf=32 ndf=16 video_batch=8 ema_decay=0.999
  log_every=100 sample_every=1000 checkpoint_every=500 $DEMO_BEFORE_MODULATION"
SHAPES="dataset=shape_motion/32 every_nth=2"
# Unconditional: Moving MNIST has no action labels.
MNIST="dataset=moving_mnist_offline/32 channels=1 every_nth=1 n_categories=0
  use_categories=false use_infogan=false video_discriminator=plain"

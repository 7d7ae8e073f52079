"""The shipped shape_motion recipe at 64x64, sized for a CPU: a run of many sittings.

    mocogan-jax train --config shapes_64_cpu --workdir workdirs/shapes_64_cpu

The demo's widths (ngf 32, ndf 16, batches 32 / 8) with the shipped model's
16-frame clips at every 2nd frame (experiments/shape_motion_model.sh), on
shape_motion/64. One step costs about 1.5 s on 2 CPU cores, 5x the 32x32 step
(experiments/RESULTS.md, "64x64 at the demo's widths: the step"), so 30,000
steps are about 12 h: the run checkpoints every 500 steps and resumes where it
stopped when the same command is run again. ACD on 256 16-frame clips is
logged every 1000 steps (eval/acd in metrics.jsonl), to set beside the
paper's table (MoCoGAN 1.79, TGAN 2.08, VGAN 5.02). The learning rate is the
paper's 2e-4, not the demo's 5e-4: at 5e-4 the 64x64 run blew up at step
1,100 and the image discriminator won outright after it (experiments/RESULTS.md,
"64x64 on a CPU: the first run"); at 2e-4 the video discriminator wins
early instead (its loss 0.05-0.09 by step 900). No run of it has finished:
expected numbers go here when one has.
"""

from mocogan_jax.configs import demo


def get_config():
  return demo.get_config().replace(
      dataset="shape_motion/64", image_size=64, video_length=16, every_nth=2,
      num_steps=30_000, eval_every=1000, eval_metrics="acd", eval_num=256, eval_length=16,
      sample_every=1000, checkpoint_every=500, learning_rate=2e-4)

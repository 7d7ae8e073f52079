#!/usr/bin/env bash
# The evaluation table of experiments/RESULTS.md ("Evaluation on shape_motion"):
# held-out real videos (the floor), the untrained generator and the generator
# after the demo's training budget, each with FVD, KVD, ACD, MCS and IS at N.
#
#   bash experiments/evaluate_shape_motion.sh [N]    # N = 256 by default
#
# The run is the CPU demo (configs/demo.py: 32x32, 2500 steps) with 16-frame
# clips at every_nth=2, the FVD protocol's length, so that generated and real
# clips move at the same speed. About 55 min on 2 CPU cores at N = 256: 10 min
# training, 3 min classifier, 0.85 s per video through I3D for 4N videos.
# Everything is seeded: a second run gives the same numbers on the same machine.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-256}"
RUN="${RUN:-workdirs/eval_demo16}"
bash tpu_setup/install.sh eval
mocogan=.venv/bin/mocogan-jax
# The demo recipe as it was when these tables were made (configs/demo.py has
# since moved to 4 categories, no discriminator BatchNorm, an EMA generator and
# content modulation).
source experiments/demo_scale.sh  # DEMO_BEFORE_MODULATION
DEMO_BEFORE="n_categories=6 discriminator_norm=batch ema_decay=0 $DEMO_BEFORE_MODULATION"
metrics=fvd,kvd,acd,acd_generic,mcs,is

$mocogan train --config demo --workdir "$RUN" $DEMO_BEFORE video_length=16 every_nth=2
$mocogan train-classifier --workdir "$RUN"
$mocogan evaluate --workdir "$RUN" --metrics "$metrics" --num "$N" --floor
$mocogan evaluate --workdir "$RUN" --metrics "$metrics" --num "$N" --untrained
$mocogan evaluate --workdir "$RUN" --metrics "$metrics" --num "$N"
.venv/bin/python experiments/evaluation_table.py "$RUN/eval/floor_n$N.json" \
  "$RUN/eval/untrained_n$N.json" "$RUN"/eval/step*_n"$N".json

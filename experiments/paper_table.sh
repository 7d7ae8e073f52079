#!/usr/bin/env bash
# The MoCoGAN paper's comparison (its Table 2: shape-motion ACD VGAN 5.02,
# TGAN 2.08, MoCoGAN 1.79) re-run under one protocol: experiments/RESULTS.md,
# "The paper's table".
#
#   bash experiments/paper_table.sh [N]    # N = 256 by default
#
# Question: at an equal CPU budget, do the three models keep the paper's order
# in shape-colour ACD (MoCoGAN < TGAN < VGAN), and how do FVD, KVD and IS
# compare? Scale: the CPU demo's (shape_motion at 32x32, ngf 32, ndf 16, video
# batch 8, EMA generator 0.999) with 16-frame clips at every_nth=2, the FVD
# protocol's length. Each model keeps its own published objective, optimiser
# and latent (configs/vgan_64.py, configs/tgan_64.py; MoCoGAN: configs/demo.py).
# Budget: about 10 minutes of 2 CPU cores each, as step counts (measured
# steps/s on an idle machine, RESULTS.md), so that a re-run gives the same
# numbers. About 65 min in all: 30 training, 3 classifier, the rest I3D.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-256}"
ROOT="${ROOT:-workdirs/paper_table}"
bash tpu_setup/install.sh eval
mocogan=.venv/bin/mocogan-jax
source experiments/demo_scale.sh  # DEMO_SCALE, SHAPES, MNIST
# Steps per model for 10 minutes each on 2 idle cores (measured at this scale:
# MoCoGAN 5.0, VGAN 4.9, TGAN 3.4 steps/s).
MOCOGAN_STEPS="${MOCOGAN_STEPS:-3000}"
VGAN_STEPS="${VGAN_STEPS:-2950}"
TGAN_STEPS="${TGAN_STEPS:-2050}"

$mocogan train --config demo --workdir "$ROOT/mocogan" $DEMO_SCALE $SHAPES num_steps="$MOCOGAN_STEPS"
$mocogan train --config vgan_64 --workdir "$ROOT/vgan" $DEMO_SCALE $SHAPES num_steps="$VGAN_STEPS"
$mocogan train --config tgan_64 --workdir "$ROOT/tgan" $DEMO_SCALE $SHAPES num_steps="$TGAN_STEPS"

# One classifier of the data's motion, for MCS and IS of every model.
$mocogan train-classifier --workdir "$ROOT/mocogan" --out "$ROOT/classifier"
common=(--num "$N" --length 16 --classifier "$ROOT/classifier")
$mocogan evaluate --workdir "$ROOT/mocogan" --floor --metrics fvd,kvd,acd,mcs,is "${common[@]}"
$mocogan evaluate --workdir "$ROOT/mocogan" --metrics fvd,kvd,acd,mcs,is "${common[@]}"
for model in vgan tgan; do  # unconditional: no MCS
  # The real clips' I3D features are the same for all: computed once, above.
  mkdir -p "$ROOT/$model/eval" && ln -sfn "$(realpath "$ROOT/mocogan/eval/cache")" \
    "$ROOT/$model/eval/cache"
  $mocogan evaluate --workdir "$ROOT/$model" --metrics fvd,kvd,acd,is "${common[@]}"
done
.venv/bin/python experiments/evaluation_table.py "$ROOT/mocogan/eval/floor_n$N.json" \
  "$ROOT"/mocogan/eval/step*_n"$N".json "$ROOT"/vgan/eval/step*_n"$N".json \
  "$ROOT"/tgan/eval/step*_n"$N".json

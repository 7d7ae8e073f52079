#!/usr/bin/env bash
# Conditional MoCoGAN and its ablations (experiments/RESULTS.md, "Conditional
# MoCoGAN: the loss terms"): configs/conditional_demo.py on shape_motion/32,
# K = 4 context and 12 predicted frames, with all three loss terms and with
# each one off, scored by experiments/prediction.py (PSNR and SSIM of the
# predicted frames of 256 held-out clips, beside copy-last-frame).
#
#   bash experiments/conditional_ablation.sh [STEPS]    # 1500 by default
#
# Question: does the conditional generator beat copy-last-frame on both PSNR
# and SSIM, and which term does it owe that to? About 12 min per run on 2
# idle cores at 1500 steps (the flow loss costs about half of a step).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${1:-1500}"
ROOT="${ROOT:-workdirs/conditional}"
bash tpu_setup/install.sh
mocogan=.venv/bin/mocogan-jax
declare -A ABLATION=([all]="" [no_adversarial]="adversarial_weight=0"
                     [no_content]="content_loss_weight=0" [no_motion]="motion_loss_weight=0")
runs=()
for name in all no_adversarial no_content no_motion; do
  $mocogan train --config conditional_demo --workdir "$ROOT/$name" num_steps="$STEPS" \
    ${ABLATION[$name]}
  runs+=(--workdir "$ROOT/$name")
done
.venv/bin/python experiments/prediction.py "${runs[@]}" --encoders none

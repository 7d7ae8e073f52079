#!/usr/bin/env bash
# A Cloud TPU VM or pod slice, driven from a workstation with gcloud.
#
#   export TPU_NAME=mocogan ZONE=us-central2-b ACCELERATOR_TYPE=v4-32 BUCKET=gs://my-bucket
#   bash tpu_setup/tpu.sh create [--spot]       # the VM or slice
#   bash tpu_setup/tpu.sh install               # this checkout + .venv with jax[tpu], every worker
#   bash tpu_setup/tpu.sh data shapes_64        # build the dataset here once (needs the local
#                                               # .venv: tpu_setup/install.sh), upload to the bucket
#   bash tpu_setup/tpu.sh train RUN --config shapes_64 [key=value ...]   # start on every worker
#   bash tpu_setup/tpu.sh logs RUN              # follow worker 0's output
#   bash tpu_setup/tpu.sh delete
#
# `train` copies the dataset from $BUCKET/tensorflow_datasets to each worker's
# disk (fast random access), then starts `mocogan-jax train --distributed` on
# all workers in the background: jax.distributed.initialize() finds the peers
# from the TPU metadata. Checkpoints go to $BUCKET/runs/RUN/checkpoints, which
# every worker can write; logs, metrics and samples to ~/runs/RUN on worker 0.
# Running the same `train` again after a preemption resumes from the bucket.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TPU_NAME:?set TPU_NAME}" "${ZONE:?set ZONE}"
RUNTIME_VERSION="${RUNTIME_VERSION:-}"  # default from the accelerator type below
REMOTE_DIR="mocogan-jax"                # the checkout on each worker, under ~

on_workers() {  # COMMAND: run on every worker, in the checkout
  gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone "$ZONE" --worker=all \
    --command "cd ~/$REMOTE_DIR && $1"
}

need_bucket() {
  case "${BUCKET:-}" in
    gs://*) ;;
    *) echo "tpu.sh: set BUCKET=gs://... (datasets and checkpoints live there)" >&2; exit 2 ;;
  esac
}

command="${1:-}"
shift || true
case "$command" in
  create)
    : "${ACCELERATOR_TYPE:?set ACCELERATOR_TYPE, e.g. v4-8 (one host) or v4-32 (four hosts)}"
    if [ -z "$RUNTIME_VERSION" ]; then
      case "$ACCELERATOR_TYPE" in
        v6e*) RUNTIME_VERSION=v2-alpha-tpuv6e ;;
        v5p*) RUNTIME_VERSION=v2-alpha-tpuv5 ;;
        v5litepod*|v5e*) RUNTIME_VERSION=v2-alpha-tpuv5-lite ;;
        *) RUNTIME_VERSION=tpu-ubuntu2204-base ;;
      esac
    fi
    gcloud compute tpus tpu-vm create "$TPU_NAME" --zone "$ZONE" \
      --accelerator-type "$ACCELERATOR_TYPE" --version "$RUNTIME_VERSION" "$@"
    ;;
  install)
    archive="$(mktemp -d)/mocogan-jax.tar.gz"
    git archive --format=tar.gz --prefix="$REMOTE_DIR/" -o "$archive" HEAD
    gcloud compute tpus tpu-vm scp "$archive" "$TPU_NAME":~/ --zone "$ZONE" --worker=all
    # The TPU images ship Python 3.10; jax needs 3.11 or newer.
    gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone "$ZONE" --worker=all \
      --command "sudo apt-get -qq update && sudo apt-get -qq install -y python3.11 python3.11-venv \
        && tar xzf mocogan-jax.tar.gz && PYTHON=python3.11 bash $REMOTE_DIR/tpu_setup/install.sh tpu"
    ;;
  data)
    need_bucket
    [ $# -ge 1 ] || { echo "usage: tpu.sh data CONFIG [key=value ...]" >&2; exit 2; }
    local_dir="$(mktemp -d)"
    .venv/bin/mocogan-jax prepare --config "$@" "data_dir=$local_dir"
    gcloud storage cp -r "$local_dir/*" "$BUCKET/tensorflow_datasets/"
    ;;
  train)
    need_bucket
    [ $# -ge 1 ] || { echo "usage: tpu.sh train RUN [mocogan-jax train args]" >&2; exit 2; }
    run="$1"
    shift
    args="$(printf ' %q' "$@")"
    on_workers "mkdir -p ~/tensorflow_datasets ~/runs/$run \
      && gcloud storage rsync -r $BUCKET/tensorflow_datasets ~/tensorflow_datasets \
      && (nohup .venv/bin/mocogan-jax train --distributed --workdir ~/runs/$run \
            --checkpoint_dir $BUCKET/runs/$run/checkpoints $args \
            > ~/runs/$run/train.log 2>&1 &)"
    echo "started $run on every worker; follow it with: bash tpu_setup/tpu.sh logs $run"
    ;;
  logs)
    [ $# -ge 1 ] || { echo "usage: tpu.sh logs RUN" >&2; exit 2; }
    gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone "$ZONE" --worker=0 \
      --command "tail -f ~/runs/$1/train.log"
    ;;
  delete)
    gcloud compute tpus tpu-vm delete "$TPU_NAME" --zone "$ZONE" --quiet
    ;;
  *)
    awk 'NR > 1 && !/^#/ {exit} NR > 1' "$0" >&2
    exit 2
    ;;
esac

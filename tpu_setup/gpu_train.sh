#!/usr/bin/env bash
# Training on every GPU of this machine: one process drives them all, the mesh
# spans them, and the batch is split over them (sharding.py).
#
#   bash tpu_setup/gpu_train.sh WORKDIR --config shapes_64 [key=value ...]
#
# Installs the CUDA build of jax into .venv on first use. Use
# CUDA_VISIBLE_DEVICES to pick GPUs; mesh_fsdp=N splits parameters and
# optimiser state over groups of N GPUs.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: gpu_train.sh WORKDIR [mocogan-jax train args]" >&2; exit 2; }
workdir="$1"
shift
if ! .venv/bin/python -c "import jax, sys; sys.exit(jax.default_backend() != 'gpu')" 2>/dev/null; then
  bash tpu_setup/install.sh cuda
fi
.venv/bin/python -c "import jax; print(f'{jax.device_count()} GPUs:', jax.devices()[0].device_kind)"
exec .venv/bin/mocogan-jax train --workdir "$workdir" "$@"

#!/usr/bin/env bash
# Fetches, where the package registry is reachable, the wheels that a GPU machine
# without network lacks, into .whl/ (ignored by git; carried with the checkout):
#   bash tpu_setup/download_wheels.sh
# experiments/accelerator_check.sh installs them from there with no network.
# That machine's Python (3.12, x86-64 Linux) already has jax with CUDA, flax,
# optax, orbax-checkpoint, chex, numpy, pillow, tqdm, scipy, pytest and torch;
# these are the project's other dependencies and what they need at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
packages=(
  tensorflow-datasets array-record importlib_resources tensorboardX dm-pix
  # what tensorflow-datasets needs at run time and that image does not have
  dm-tree simple-parsing toml termcolor immutabledict docstring-parser
  tensorflow-metadata googleapis-common-protos
)
# Published as source only, pure Python: built into a wheel here.
source_only=(promise)
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux1_x86_64; do platforms+=(--platform "$p"); done
mkdir -p .whl
for package in "${packages[@]}"; do
  "$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]}" -d .whl "$package"
done
for package in "${source_only[@]}"; do
  "$python" -m pip wheel -q --no-deps -w .whl "$package"
done
du -sh .whl

#!/usr/bin/env bash
# Everything the project measures on one GPU, in one run of at most ~8 minutes:
#
#   bash experiments/accelerator_check.sh OUT              # on the GPU machine
#   bash experiments/accelerator_check.sh OUT --dry-run    # the same steps on the CPU, tiny configs
#
# Writes to OUT, in this order, so that a run stopped early still returns the
# most important numbers:
#   results.jsonl  one JSON line per finished step: env, tests, bench (per config
#                  and dtype), predict (the compiler's memory and roofline for this
#                  card beside the measured step), input (the pipeline against the fastest step),
#                  torch (eager, compiled), train, evaluate
#   log.txt        every step's output
#   metrics.jsonl, samples.gif   the training run's curves and its last samples
# Each step has its own time limit; a step that fails or runs out of time is
# recorded ("ok": false) and the next one runs.
#
# The GPU machine has no network and a Python with jax (CUDA), flax, optax,
# orbax-checkpoint, chex and torch. What else the project needs travels as
# wheels in .whl/ (tpu_setup/download_wheels.sh, run beforehand where the
# package registry is reachable) and is installed from there without network.
# PYTHON picks the interpreter (default: .venv/bin/python if present, else python3).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: accelerator_check.sh OUT [--dry-run]}"
dry="${2:-}"
[ -n "$dry" ] && [ "$dry" != "--dry-run" ] && { echo "unknown option $dry" >&2; exit 2; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
start=$(date +%s)
budget=${CHECK_SECONDS:-480}  # the whole run; training gets what the steps before it leave
python="${PYTHON:-}"
[ -z "$python" ] && { [ -x .venv/bin/python ] && python=.venv/bin/python || python=python3; }

if ls .whl/*.whl >/dev/null 2>&1; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/mocogan_site .whl/*.whl >>"$out/log.txt" 2>&1 && \
    export PYTHONPATH="/tmp/mocogan_site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
scratch="$(mktemp -d)"
export TFDS_DATA_DIR="$scratch/tfds"

left() { echo $((budget - ($(date +%s) - start))); }

# record NAME JSON: one line of results.jsonl, with the step's name.
record() { echo "{\"step\": \"$1\", $2}" >>"$out/results.jsonl"; }

# run NAME LIMIT_S CMD...: runs CMD with a time limit, its output to log.txt
# (and to $scratch/NAME.txt); records ok and the seconds it took.
run() {
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s)
  echo "=== $name (limit ${limit}s, $(left)s of the budget left): $*" | tee -a "$out/log.txt"
  timeout -k 10 "$limit" "$@" >"$scratch/$name.txt" 2>&1
  local rc=$?
  cat "$scratch/$name.txt" >>"$out/log.txt"
  tail -3 "$scratch/$name.txt"
  record "$name" "\"ok\": $([ $rc = 0 ] && echo true || echo false), \"rc\": $rc, \"seconds\": $(( $(date +%s) - t0 ))"
  return $rc
}

last_json() { grep '^{' "$scratch/$1.txt" | tail -1; }

# --- 1. The device and the stack.
run env 60 "$python" -c "
import json, jax, flax, optax, orbax.checkpoint as ocp
d = jax.devices()[0]
print(json.dumps({'backend': jax.default_backend(), 'device': d.device_kind, 'count': jax.device_count(),
                  'jax': jax.__version__, 'flax': flax.__version__, 'optax': optax.__version__}))"
record env_info "\"info\": $(last_json env || echo null)"

# --- 2. The accelerator tests (tests/test_accelerator.py and the others marked so).
# The dry run only collects those of tests/test_accelerator.py: the suite runs
# them all on the CPU anyway. JAX_PLATFORMS set (empty = every platform) so that
# tests/conftest.py does not pin the tests to the CPU, as it does for the suite.
selected=(tests)
[ -n "$dry" ] && selected=(--collect-only tests/test_accelerator.py)
run tests 150 env JAX_PLATFORMS="${JAX_PLATFORMS:-}" "$python" -m pytest -q -p no:cacheprovider \
  -m accelerator "${selected[@]}"

# --- 3. The train step: compile time, step time, videos/s, FLOPs and the fraction of peak.
if [ -n "$dry" ]; then
  benches=("tiny")
  dtypes="float32"  # bfloat16 is one override more; the suite tests it (test_training.py)
  peak_f32=0 peak_bf16=0
  steps="--steps 2 --warmup 1"
else
  benches=("shapes_64" "shapes_64_paper" "shapes_64_paper image_size=128" "shapes_64 image_size=256")
  dtypes="float32 bfloat16"
  # Dense peaks of an H100 SXM (TF32 for float32 work, as XLA runs float32
  # convolutions on GPUs by default); override for another card.
  peak_f32=${PEAK_TF32_TFLOPS:-494} peak_bf16=${PEAK_BF16_TFLOPS:-989}
  steps="--steps 10 --warmup 2"
fi
i=0
for bench in "${benches[@]}"; do
  for dtype in $dtypes; do
    peak=$([ $dtype = float32 ] && echo $peak_f32 || echo $peak_bf16)
    set -- $bench
    name="bench_$i"; i=$((i + 1))
    if run "$name" 90 "$python" experiments/benchmark_train_step.py --config "$1" $steps \
        --peak_tflops "$peak" "${@:2}" dtype=$dtype; then
      record bench_result "\"result\": $(last_json "$name")"
      [ "$bench" = "shapes_64" ] && [ $dtype = float32 ] && last_json "$name" >"$scratch/jax_shapes_64.json"
    fi
  done
done

# --- 3a. The compiler's prediction beside the measured step: `mocogan-jax compile` for this
# card (the dry run: for a v5e:2x2 TPU, with libtpu) with the benchmark's config and batch,
# and the measured step time over its roofline bound.
if [ -n "$dry" ]; then
  predict=(--config tiny --topology v5e:2x2 video_batch=4 image_batch=8)
  measured="$scratch/bench_0.txt"
else
  card=$("$python" -c "import jax; k = jax.devices()[0].device_kind
print('h200' if 'H200' in k else 'a100' if 'A100' in k else 'h100')")
  predict=(--config shapes_64 --topology "${card:-h100}:1")
  measured="$scratch/jax_shapes_64.json"
fi
if run predict 150 "$python" -m mocogan_jax compile "${predict[@]}" --json "$scratch/predict.json"; then
  record predict_result "\"result\": $("$python" -c "
import json, sys
p = json.load(open('$scratch/predict.json'))
lines = [l for l in open('$measured') if l.startswith('{')] if '$measured' else []
step = json.loads(lines[-1]).get('step_time_s_median') if lines else None
print(json.dumps({'topology': p['topology'], 'predicted_gib': p['memory_bytes']['total'] / 2**30,
                  'roofline_s': p['roofline_s'], 'bound': p['bound'], 'measured_step_s': step,
                  'measured_over_roofline': step / p['roofline_s'] if step else None}))")"
fi

# --- 3b. Does the input pipeline keep up with the fastest shapes_64_paper step measured?
fastest=$(grep -h '"shapes_64_paper"' "$scratch"/bench_*.txt 2>/dev/null | grep '^{' | grep -v image_size \
  | "$python" -c "import json, sys; print(min([json.loads(l)['step_time_s_median'] for l in sys.stdin] or [0.05]))")
if [ -n "$dry" ]; then input=(--config tiny --steps 5 --workers 1,2); else input=(--config shapes_64_paper --steps 100 --workers 2,4,8); fi
run input 150 "$python" experiments/benchmark_input.py --sources shape_motion --step_time "${fastest:-0.05}" \
  "${input[@]}" && record input_result "\"result\": $(last_json input)"

# --- 4. The same iteration in PyTorch on the same device (eager, then torch.compile).
if "$python" -c "import torch" 2>/dev/null && [ -s "$scratch/jax_shapes_64.json" ]; then
  device=$([ -n "$dry" ] && echo cpu || echo cuda)
  for mode in "" "--compile"; do
    name="torch${mode:+_compile}"
    run "$name" 120 "$python" experiments/compare_pytorch.py --config shapes_64 --device "$device" \
        --steps 5 $mode --jax-result "$scratch/jax_shapes_64.json" \
      && record torch_result "\"result\": $(last_json "$name")"
  done
else
  record torch "\"ok\": false, \"skipped\": \"no torch here, or no shapes_64 benchmark to compare with\""
fi

# --- 5. Train the official recipe for the minutes left, then its samples and ACD.
if [ -n "$dry" ]; then
  train=(--config tiny num_steps=4 checkpoint_every=2 sample_every=2)
  evaluate=(--num 8 --batch 4)
  reserve=60
else
  train=(--config shapes_64_paper log_every=100 sample_every=500 checkpoint_every=500)
  evaluate=(--num 256)
  reserve=75  # evaluation and samples after the run
fi
seconds=$(( $(left) - reserve ))
[ "$seconds" -lt 30 ] && seconds=30
# SIGTERM makes the loop save a checkpoint of the step it reached and exit.
run train $((seconds + 30)) timeout --preserve-status -s TERM "$seconds" \
  "$python" -m mocogan_jax train --workdir "$scratch/run" "${train[@]}"
cp "$scratch/run/metrics.jsonl" "$out/" 2>/dev/null \
  && record train_result "\"last_log\": $(grep '"loss/generator"' "$out/metrics.jsonl" | tail -1)"
run evaluate 60 "$python" -m mocogan_jax evaluate --workdir "$scratch/run" --metrics acd \
  --length 16 "${evaluate[@]}" --out "$scratch/eval.json" \
  && record evaluate_result "\"result\": $(cat "$scratch/eval.json" | tr -d '\n')"
run sample 30 "$python" -m mocogan_jax sample --workdir "$scratch/run" --length 16 \
  --out "$out/samples.gif"
echo "done in $(( $(date +%s) - start )) s; results in $out/results.jsonl" | tee -a "$out/log.txt"
rm -rf "$scratch"

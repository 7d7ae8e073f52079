#!/usr/bin/env bash
# Runs N processes of one command on this machine as one multi-process JAX run,
# with the coordinator on 127.0.0.1. The processes find each other through the
# MOCOGAN_COORDINATOR / MOCOGAN_NUM_PROCESSES / MOCOGAN_PROCESS_ID variables,
# read by `mocogan-jax train` exactly as the --coordinator flags used on
# multi-node GPU clusters (tests/test_parallel.py runs training this way).
#
#   bash tpu_setup/launch_local.sh N COMMAND...
#   XLA_FLAGS=--xla_force_host_platform_device_count=4 \
#     bash tpu_setup/launch_local.sh 2 .venv/bin/mocogan-jax train --config tiny --workdir w
#
# Prints "process I: pid P" for each process. SIGINT/SIGTERM are passed on to
# every process (they agree on a step, save and exit 0). Exits with the first
# non-zero status of any process; when one dies, JAX stops the others after
# --heartbeat_timeout seconds.
set -uo pipefail
if [ $# -lt 2 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: launch_local.sh NUM_PROCESSES COMMAND..." >&2
  exit 2
fi
num_processes="$1"
shift
port="${MOCOGAN_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"

pids=()
for ((i = 0; i < num_processes; i++)); do
  MOCOGAN_COORDINATOR="127.0.0.1:$port" MOCOGAN_NUM_PROCESSES="$num_processes" \
    MOCOGAN_PROCESS_ID="$i" "$@" &
  pids+=($!)
  echo "process $i: pid $!"
done
trap 'kill -TERM "${pids[@]}" 2>/dev/null' INT TERM

status=0
for pid in "${pids[@]}"; do
  while true; do
    wait "$pid"
    code=$?
    # wait returns early (code > 128) when a trapped signal arrives; wait again.
    kill -0 "$pid" 2>/dev/null || break
  done
  [ "$status" -eq 0 ] && status=$code
done
exit "$status"

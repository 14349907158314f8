#!/usr/bin/env bash
# Every check that needs a GPU, in one go, so that one call of a lent GPU machine does them all:
# the CUDA tests (eager and CUDA-graph steps), where a step's time goes, the engine against the
# textbook loop (3 epochs; and 10 epochs for accuracy), each log also written to $OUT (else ./gpu-check).
#
#   here:  scripts/bench_data.sh            # bench-data/ from ../shared/datasets/mnist (git-ignored)
#   there: benchmarks/gpu_check.sh          # with bench-data carried along; ~4 min on an H100
#
# Runs under the machine's own python3 (PYTHON to change it); needs torch, torchvision and pytest
# there, not Streamlit. Exit code: 0 when every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-check}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 TLL_OFFLINE=1 TLL_CACHE_DIR=${TLL_CACHE_DIR:-/tmp/tll-gpu-check-cache}
failed=0

step() {  # step NAME SECONDS COMMAND...: run it with a time limit, log to $out/NAME.log, remember a failure
  local name=$1 limit=$2 start=$SECONDS rc
  shift 2
  echo "== $name: $*"
  timeout "$limit" "$@" 2>&1 | tee "$out/$name.log"
  rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc after $((SECONDS - start)) s"
  [ "$rc" -eq 0 ] || failed=1
}

[ -d bench-data/MNIST/raw ] || { echo "bench-data/ is missing: run scripts/bench_data.sh here and carry it"; exit 2; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee "$out/gpu.txt"
# the limits add up to 9 minutes, so one 10-minute call holds them all; a hung test prints its stacks first
step cuda_tests 180 "$py" -m pytest tests/test_cuda.py -q -p no:cacheprovider -rs -o faulthandler_timeout=150
step step_overhead 60 "$py" benchmarks/step_overhead.py --device cuda
step train_speed 120 "$py" benchmarks/train_speed.py --data-dir bench-data --device cuda --epochs 3 --seeds 3 --cuda-graph
step accuracy_10_epochs 180 "$py" benchmarks/train_speed.py --data-dir bench-data --device cuda --epochs 10 --seeds 2 --cuda-graph
exit $failed

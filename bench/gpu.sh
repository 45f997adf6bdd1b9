#!/usr/bin/env bash
# GPU-scale figures with torch and transformers only (no vLLM, no Hub): bench/gpu_bench.py.
#   bash bench/gpu.sh                 # on a GPU machine; figures printed and in $OUT or ./gpu.json
#   bash bench/gpu.sh --tiny          # tiny shapes on CPU (what the test suite runs)
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"
out="${OUT:-.}/gpu.json"
[[ " $* " == *" --tiny "* ]] && out="${OUT:-${TMPDIR:-/tmp}}/gpu-tiny.json"
exec "${PYTHON:-python3}" bench/gpu_bench.py --out "$out" "$@"

#!/usr/bin/env bash
# The CUDA backend's whole check on a GPU machine (no Node.js, no network there): unpacks
# the Node.js carried in .device/node.gz, times PyTorch on the cases of cases.json, then
# runs check.js (correctness against the CPU backend, then timings against PyTorch; the
# table comes last). Builds nothing: the carried build-cuda/ and build/ hold the addons,
# lib/ the compiled TypeScript. Results go to $OUT (or bench/out).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/out}
export OUT
mkdir -p "$OUT"
node=/tmp/iv-node
gzip -dc .device/node.gz > "$node" && chmod +x "$node" || { echo "no .device/node.gz (run ../shared/device/pack-node.sh)"; exit 2; }
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu --format=csv | tee "$OUT/gpu.txt"
PYTHONUNBUFFERED=1 timeout 180 python3 bench/gpu/torch_bench.py > "$OUT/torch.json" 2> "$OUT/torch.log" \
  || { echo "torch bench failed (see $OUT/torch.log):"; tail -5 "$OUT/torch.log"; }
timeout 300 "$node" bench/gpu/check.js 2>&1 | tee "$OUT/check.log"
exit "${PIPESTATUS[0]}"

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
# Each part runs even if an earlier one failed; the exit status reports any failure.
status=0
part() { # name, timeout, script
  timeout "$2" "$node" "$3" 2>&1 | tee "$OUT/$1.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "== $1 failed"; status=1; }
}
part check 300 bench/gpu/check.js             # core ops, GEMM (table.md)
part check-nn 150 bench/gpu/check-nn.js       # attention, softmax, layerNorm, crossEntropy, optimizers (nn-table.md)
part check-conv 150 bench/gpu/check-conv.js   # conv, pooling, batchNorm, groupNorm (conv-table.md)
part train-step 240 bench/gpu/train-step.js   # ResNet-50 and MN-B4 training steps (train-table.md)
# At most 8 files come back from a device run: one summary and one log.
cat "$OUT/gpu.txt" "$OUT"/table.md "$OUT"/nn-table.md "$OUT"/conv-table.md "$OUT"/train-table.md > "$OUT/summary.md" 2>/dev/null
for f in "$OUT"/*.log; do echo "===== $f"; cat "$f"; done > "$OUT/all-logs.txt"
find "$OUT" -maxdepth 1 -type f ! -name summary.md ! -name all-logs.txt -delete
exit $status

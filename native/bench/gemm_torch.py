"""PyTorch CPU reference for gemm_bench: GFLOP/s of torch.mm at the same shapes (M x K x N).

  /usr/bin/python3 native/bench/gemm_torch.py [threads] [MxKxN ...]

torch.mm calls OpenBLAS here; it uses its own pool, so OPENBLAS_NUM_THREADS should match.
"""
import sys
import time

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
shapes = [tuple(int(x) for x in a.split("x")) for a in sys.argv[2:]] or [
    (256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
    (3136, 576, 64), (784, 1152, 128), (50176, 147, 64)]
print(f"torch.mm GFLOP/s, {threads} threads, torch {torch.__version__}")
for m, k, n in shapes:
    a, b = torch.randn(m, k), torch.randn(k, n)
    flop = 2.0 * m * n * k
    reps = max(1, int(1e9 / flop))
    for _ in range(max(2, reps // 4)):
        torch.mm(a, b)
    best = float("inf")
    for _ in range(9):
        t = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        best = min(best, (time.perf_counter() - t) / reps)
    print(f"{m}x{k}x{n:<10} {flop / best / 1e9:8.1f}")

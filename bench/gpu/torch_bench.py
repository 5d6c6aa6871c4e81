"""PyTorch side of bench/gpu/check.js: the same cases (cases.json) on the same card, timed
with CUDA events (median of repeats after a warm-up). Prints JSON {case key: ms} on stdout."""
import json
import os
import statistics
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = json.load(open(os.path.join(HERE, "cases.json")))
# float32 GEMM on both sides is plain FP32 (no TF32), as ours.
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def timed(fn, iters, repeats=7):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / iters)
    return statistics.median(times)


def elementwise(case):
    shape = case["shape"]
    x = torch.rand(shape, device="cuda") - 0.5
    y = torch.rand(shape, device="cuda") - 0.5
    row = torch.rand(shape[-1:], device="cuda")
    out = torch.empty_like(x)
    fns = {
        "copy": lambda: out.copy_(x),
        "add": lambda: torch.add(x, y),
        "mulScalar": lambda: torch.mul(x, 2.5),
        "relu": lambda: torch.relu(x),
        "gelu": lambda: torch.nn.functional.gelu(x),
        "addRow": lambda: torch.add(x, row),
        "sumAll": lambda: x.sum(),
        "sumLast": lambda: x.sum(-1),
        "sumFirst": lambda: x.sum(0),
        "maxLast": lambda: x.amax(-1),
    }
    return timed(fns[case["op"]], 20)


def gemm(n, dtype):
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    iters = max(1, int(2e11 // (2 * n**3)) + 1) if dtype == torch.float32 else max(1, int(2e12 // (2 * n**3)) + 1)
    return timed(lambda: a @ b, min(iters, 50))


def main():
    results = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    for case in CASES["elementwise"]:
        results["ew:" + case["name"]] = elementwise(case)
    for n in CASES["gemm"]:
        results[f"gemm:f32:{n}"] = gemm(n, torch.float32)
        results[f"gemm:bf16:{n}"] = gemm(n, torch.bfloat16)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()

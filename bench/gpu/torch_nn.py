"""PyTorch side of bench/gpu/check-nn.js: the shapes of its BENCH (JSON on stdin) on the
same card, timed with CUDA events (median of 5 after a warm-up), float32, TF32 off.
Prints JSON {case key: ms, ...} on stdout, with the keys check-nn.js uses."""
import json
import statistics
import sys

import torch
import torch.nn.functional as F

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
BENCH = json.load(sys.stdin)
dev = "cuda"


def timed(fn, iters, repeats=5):
    for _ in range(2):
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


out = {"torch": torch.__version__}


def sdpa_backend():
    # Which fused kernel float32 SDPA takes on this card (flash needs half precision).
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel

        q = torch.randn(2, 1, 64, 64, device=dev)
        for name, b in [("efficient", SDPBackend.EFFICIENT_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION)]:
            try:
                with sdpa_kernel(b):
                    F.scaled_dot_product_attention(q, q, q)
                return name
            except RuntimeError:
                pass
        return "math"
    except Exception as e:  # older torch
        return f"default ({type(e).__name__})"


out["sdpa_backend"] = sdpa_backend()
for B, L, E in BENCH["attention"]:
    q, k, v = (torch.randn(1, B, L, E, device=dev, requires_grad=True) for _ in range(3))
    g = torch.randn(1, B, L, E, device=dev)
    iters = 3 if L > 1000 else 10
    with torch.no_grad():
        out[f"attn:{B}:{L}:{E}:fwd"] = timed(lambda: F.scaled_dot_product_attention(q, k, v), iters)

    def fb():
        o = F.scaled_dot_product_attention(q, k, v)
        torch.autograd.grad(o, (q, k, v), g)

    out[f"attn:{B}:{L}:{E}:fwdbwd"] = timed(fb, iters)
    del q, k, v, g

for M, K in BENCH["layerNorm"]:
    x = torch.randn(M, K, device=dev, requires_grad=True)
    w = torch.randn(K, device=dev, requires_grad=True)
    b = torch.randn(K, device=dev, requires_grad=True)
    g = torch.randn(M, K, device=dev)
    with torch.no_grad():
        out[f"ln:{M}:{K}:fwd"] = timed(lambda: F.layer_norm(x, (K,), w, b, 1e-5), 20)

    def fb():
        o = F.layer_norm(x, (K,), w, b, 1e-5)
        torch.autograd.grad(o, (x, w, b), g)

    out[f"ln:{M}:{K}:fwdbwd"] = timed(fb, 20)

for M, K in BENCH["softmax"]:
    x = torch.randn(M, K, device=dev, requires_grad=True)
    g = torch.randn(M, K, device=dev)
    with torch.no_grad():
        out[f"softmax:{M}:{K}:fwd"] = timed(lambda: torch.softmax(x, -1), 20)

    def fb():
        o = torch.softmax(x, -1)
        torch.autograd.grad(o, (x,), g)

    out[f"softmax:{M}:{K}:fwdbwd"] = timed(fb, 20)

for N, C in BENCH["crossEntropy"]:
    x = torch.randn(N, C, device=dev, requires_grad=True)
    t = torch.randint(0, C, (N,), device=dev)

    def fb():
        loss = F.cross_entropy(x, t)
        torch.autograd.grad(loss, (x,))

    out[f"ce:{N}:{C}:fwdbwd"] = timed(fb, 20)

for n in BENCH["adamw"]:
    p = torch.nn.Parameter(torch.randn(n, device=dev))
    p.grad = torch.randn(n, device=dev)
    impl = "fused=True"
    try:
        opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=0.05, fused=True)
        opt.step()
    except Exception:
        impl = "foreach=True"
        opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=0.05, foreach=True)
    out["adamw_impl"] = impl
    out[f"adamw:{n}"] = timed(opt.step, 20)

json.dump(out, sys.stdout)

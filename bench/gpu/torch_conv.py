"""PyTorch side of bench/gpu/check-conv.js: cuDNN convolution forward, input gradient and
weight gradient on the shapes given as JSON in argv[1] (a list of
{label, N, C, H, W, K, kh, kw, stride, pad, groups}), float32, TF32 off like ours, timed with
CUDA events (median of repeats after a warm-up). Prints JSON {"label:pass": ms} on stdout."""
import json
import statistics
import sys

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.backends.cudnn.benchmark = True


def timed(fn, iters=10, repeats=5):
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


def main():
    shapes = json.loads(sys.argv[1])
    out = {"torch": torch.__version__, "cudnn": torch.backends.cudnn.version(), "device": torch.cuda.get_device_name()}
    conv_bwd = torch.ops.aten.convolution_backward
    for s in shapes:
        x = torch.randn(s["N"], s["C"], s["H"], s["W"], device="cuda")
        w = torch.randn(s["K"], s["C"] // s["groups"], s["kh"], s["kw"], device="cuda")
        stride, pad, groups = [s["stride"]] * 2, [s["pad"]] * 2, s["groups"]
        y = torch.nn.functional.conv2d(x, w, None, stride, pad, 1, groups)
        gy = torch.randn_like(y)
        args = (gy, x, w, None, stride, pad, [1, 1], False, [0, 0], groups)
        with torch.no_grad():
            out[s["label"] + ":fwd"] = timed(lambda: torch.nn.functional.conv2d(x, w, None, stride, pad, 1, groups))
            out[s["label"] + ":dgrad"] = timed(lambda: conv_bwd(*args, [True, False, False]))
            out[s["label"] + ":wgrad"] = timed(lambda: conv_bwd(*args, [False, True, False]))
        del x, w, y, gy
    print(json.dumps(out))


if __name__ == "__main__":
    main()

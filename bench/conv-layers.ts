// The convolutions of a ResNet-18 CIFAR training step (bench/train-step.ts's model, batch 64,
// 2 threads): forward, input gradient and weight gradient of every distinct layer shape, in
// ms, beside PyTorch CPU's (oneDNN) in the same run, and their sum (bench/util.ts
// timeConvPasses). LAYERS=imagenet takes ResNet-18's ImageNet layers at 224 px instead (with
// BENCH_CONV_BATCH=1: batch-1 inference's convolutions); LAYERS=mn-t the 1x1 convolutions of an
// mn-t step at 32 px (planes of 16x16 down to squeeze-excitation's 1x1). ONLY=<text> keeps the shapes whose
// name contains it; NO_TORCH=1 skips PyTorch (for alternating runs of two builds); BENCH_RUNS
// sets the timed runs per pass (median; default 5).
import * as iv from '../src'
import { hasTorch, printTable, timeConvPasses, torchRun } from './util'
const N = Number(process.env.BENCH_CONV_BATCH ?? 64)
const only = process.env.ONLY
const layers = process.env.LAYERS ?? 'cifar'
const imagenet = layers === 'imagenet'
const cifarLayers = [
  { name: 'stem 3->64 32', x: [N, 3, 32, 32], w: [64, 3, 3, 3], stride: 1, padding: 1 },
  { name: '64->64 32', x: [N, 64, 32, 32], w: [64, 64, 3, 3], stride: 1, padding: 1 },
  { name: '64->128 s2 32', x: [N, 64, 32, 32], w: [128, 64, 3, 3], stride: 2, padding: 1 },
  { name: '1x1 64->128 s2', x: [N, 64, 32, 32], w: [128, 64, 1, 1], stride: 2, padding: 0 },
  { name: '128->128 16', x: [N, 128, 16, 16], w: [128, 128, 3, 3], stride: 1, padding: 1 },
  { name: '128->256 s2 16', x: [N, 128, 16, 16], w: [256, 128, 3, 3], stride: 2, padding: 1 },
  { name: '256->256 8', x: [N, 256, 8, 8], w: [256, 256, 3, 3], stride: 1, padding: 1 },
  { name: '256->512 s2 8', x: [N, 256, 8, 8], w: [512, 256, 3, 3], stride: 2, padding: 1 },
  { name: '512->512 4', x: [N, 512, 4, 4], w: [512, 512, 3, 3], stride: 1, padding: 1 },
]
const imagenetLayers = [
  { name: 'stem 3->64 7x7 s2 224', x: [N, 3, 224, 224], w: [64, 3, 7, 7], stride: 2, padding: 3 },
  { name: '64->64 56', x: [N, 64, 56, 56], w: [64, 64, 3, 3], stride: 1, padding: 1 },
  { name: '64->128 s2 56', x: [N, 64, 56, 56], w: [128, 64, 3, 3], stride: 2, padding: 1 },
  { name: '1x1 64->128 s2 56', x: [N, 64, 56, 56], w: [128, 64, 1, 1], stride: 2, padding: 0 },
  { name: '128->128 28', x: [N, 128, 28, 28], w: [128, 128, 3, 3], stride: 1, padding: 1 },
  { name: '128->256 s2 28', x: [N, 128, 28, 28], w: [256, 128, 3, 3], stride: 2, padding: 1 },
  { name: '256->256 14', x: [N, 256, 14, 14], w: [256, 256, 3, 3], stride: 1, padding: 1 },
  { name: '256->512 s2 14', x: [N, 256, 14, 14], w: [512, 256, 3, 3], stride: 2, padding: 1 },
  { name: '512->512 7', x: [N, 512, 7, 7], w: [512, 512, 3, 3], stride: 1, padding: 1 },
]
const pointwise = (c: number, k: number, size: number) => ({
  name: `1x1 ${c}->${k} ${size}`,
  x: [N, c, size, size],
  w: [k, c, 1, 1],
  stride: 1,
  padding: 0,
})
const mntLayers = [
  pointwise(16, 64, 16),
  pointwise(96, 24, 8),
  pointwise(24, 96, 8),
  pointwise(192, 48, 4),
  pointwise(48, 192, 4),
  pointwise(48, 64, 2),
  pointwise(96, 24, 1),
  pointwise(24, 96, 1),
  pointwise(128, 512, 1),
]
let cases = imagenet ? imagenetLayers : layers === 'mn-t' ? mntLayers : cifarLayers
if (only) cases = cases.filter((c) => c.name.includes(only))
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
iv.setNumThreads(2)
const ours = cases.map((c) => timeConvPasses(c.x, c.w, { stride: c.stride, padding: c.padding }, RUNS))
const torch =
  hasTorch && !process.env.NO_TORCH
    ? torchRun<number[][]>(`
import torch.nn.functional as F
out = []
for c in json.loads(${JSON.stringify(JSON.stringify(cases))}):
    x = torch.randn(*c['x']); s, p = c['stride'], c['padding']
    with torch.no_grad():
        w = torch.randn(*c['w'])
        gy = torch.randn_like(F.conv2d(x, w, None, s, p))
        back = lambda mask: (lambda: torch.ops.aten.convolution_backward(gy, x, w, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, mask))
        out.append([timeit(lambda: F.conv2d(x, w, None, s, p), ${RUNS}), timeit(back([True, False, False]), ${RUNS}), timeit(back([False, True, False]), ${RUNS})])
print(json.dumps(out))`)
    : null
const rows: (string | number)[][] = []
const total = [0, 0]
cases.forEach((c, i) =>
  ['fwd', 'gx', 'gw'].forEach((p, j) => {
    const t = torch ? torch[i][j] : NaN
    total[0] += ours[i][j]
    total[1] += t
    rows.push([c.name, p, ours[i][j] * 1e3, t * 1e3, t / ours[i][j]])
  }),
)
rows.push(['total', '', total[0] * 1e3, total[1] * 1e3, total[1] / total[0]])
printTable(
  `${imagenet ? 'ResNet-18 ImageNet (224 px)' : layers === 'mn-t' ? 'mn-t (32 px) 1x1' : 'ResNet-18 CIFAR'} convs, batch ${N}, ms`,
  ['shape', 'pass', 'intern-vision ms', 'PyTorch ms', 'ratio'],
  rows,
)

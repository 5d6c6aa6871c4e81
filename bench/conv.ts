// conv2d forward / input-grad / weight-grad GFLOP/s at ResNet-50 and MetaNet shapes, and
// maxPool2d GB/s (input read), beside PyTorch CPU (oneDNN) in the same run, 2 threads.
// The batch is 8 (BENCH_CONV_BATCH=32 for ResNet's training batch; same ratios, 4x longer).
// The three passes are timed separately (bench/util.ts timeConvPasses). Then the
// convolutions in bfloat16 (float32 accumulation) beside our float32 and PyTorch's bfloat16
// (oneDNN).
import * as iv from '../src'
import { hasTorch, printTable, timeConvPasses, timeIt, torchRun } from './util'

interface Case {
  name: string
  x: number[]
  w: number[] | null // null: maxPool2d 3x3 stride 2 pad 1
  stride: number
  padding: number
  groups: number
}

const N = Number(process.env.BENCH_CONV_BATCH ?? 8)
const cases: Case[] = [
  { name: '3x3 64->64 56x56', x: [N, 64, 56, 56], w: [64, 64, 3, 3], stride: 1, padding: 1, groups: 1 },
  { name: '1x1 256->64 56x56', x: [N, 256, 56, 56], w: [64, 256, 1, 1], stride: 1, padding: 0, groups: 1 },
  { name: '3x3 s2 128->128 56->28', x: [N, 128, 56, 56], w: [128, 128, 3, 3], stride: 2, padding: 1, groups: 1 },
  { name: 'depthwise 3x3 96ch 56x56', x: [N, 96, 56, 56], w: [96, 1, 3, 3], stride: 1, padding: 1, groups: 96 },
  { name: 'depthwise 3x3 384ch 28x28', x: [N, 384, 28, 28], w: [384, 1, 3, 3], stride: 1, padding: 1, groups: 384 },
  { name: 'depthwise 3x3 s2 96ch 56->28', x: [N, 96, 56, 56], w: [96, 1, 3, 3], stride: 2, padding: 1, groups: 96 },
  // Small planes (MetaNet's last stages; channels-last on AVX-512).
  { name: 'depthwise 3x3 384ch 7x7', x: [N, 384, 7, 7], w: [384, 1, 3, 3], stride: 1, padding: 1, groups: 384 },
  { name: 'depthwise 3x3 s2 192ch 14->7', x: [N, 192, 14, 14], w: [192, 1, 3, 3], stride: 2, padding: 1, groups: 192 },
  { name: 'maxPool 3x3 s2 64ch 112x112', x: [N, 64, 112, 112], w: null, stride: 2, padding: 1, groups: 1 },
]
const passes = ['forward', 'input-grad', 'weight-grad'] as const
const RUNS = 5

/** Work per call: GFLOP for a conv pass, GB of input for the pool. */
function work(c: Case): number {
  if (!c.w) return (c.x.reduce((a, b) => a * b, 1) * 4) / 1e9
  const [K, Cg, kh, kw] = c.w
  const o = (n: number) => Math.floor((n + 2 * c.padding - kh) / c.stride) + 1
  return (2 * c.x[0] * K * o(c.x[2]) * o(c.x[3]) * Cg * kh * kw) / 1e9
}

iv.setNumThreads(2)
// Seconds per call: [forward, input-grad, weight-grad] (the pool has forward only).
const ours: number[][] = cases.map((c) => {
  if (c.w) return timeConvPasses(c.x, c.w, { stride: c.stride, padding: c.padding, groups: c.groups }, RUNS)
  const x = iv.randn(c.x)
  const s = iv.noGrad(() =>
    timeIt(() => iv.maxPool2d(x, { kernelSize: 3, stride: c.stride, padding: c.padding }).dispose(), RUNS),
  )
  x.dispose()
  return [s]
})

const convs = cases.filter((c) => c.w)
const oursBf16: number[][] = convs.map((c) =>
  timeConvPasses(c.x, c.w!, { stride: c.stride, padding: c.padding, groups: c.groups }, RUNS, 'bfloat16'),
)

const torch = hasTorch
  ? torchRun<number[][]>(`
import torch.nn.functional as F
out = []
for c in json.loads(${JSON.stringify(JSON.stringify(cases))}):
    x = torch.randn(*c['x'])
    s, p, g = c['stride'], c['padding'], c['groups']
    with torch.no_grad():
        if c['w'] is None:
            out.append([timeit(lambda: F.max_pool2d(x, 3, s, p), ${RUNS})])
            continue
        w = torch.randn(*c['w'])
        gy = torch.randn_like(F.conv2d(x, w, None, s, p, 1, g))
        back = lambda mask: (lambda: torch.ops.aten.convolution_backward(gy, x, w, None, [s, s], [p, p], [1, 1], False, [0, 0], g, mask))
        out.append([timeit(lambda: F.conv2d(x, w, None, s, p, 1, g), ${RUNS}),
                    timeit(back([True, False, False]), ${RUNS}),
                    timeit(back([False, True, False]), ${RUNS})])
        x, w, gy = x.bfloat16(), w.bfloat16(), gy.bfloat16()
        out.append([timeit(lambda: F.conv2d(x, w, None, s, p, 1, g), ${RUNS}),
                    timeit(back([True, False, False]), ${RUNS}),
                    timeit(back([False, True, False]), ${RUNS})])
print(json.dumps(out))`)
  : null

// PyTorch's rows: float32 per case, each conv's followed by its bfloat16 row.
function splitTorchRows(rs: number[][]): { f32: number[][]; bf16: number[][] } {
  const f32: number[][] = [],
    bf16: number[][] = []
  let r = 0
  for (const c of cases) {
    f32.push(rs[r++])
    if (c.w) bf16.push(rs[r++])
  }
  return { f32, bf16 }
}
const torchRows = torch ? splitTorchRows(torch) : null

const rows: (string | number)[][] = []
cases.forEach((c, i) =>
  ours[i].forEach((s, j) => {
    const t = torchRows ? torchRows.f32[i][j] : NaN
    rows.push([c.name, c.w ? passes[j] : 'forward', c.w ? 'GFLOP/s' : 'GB/s', work(c) / s, work(c) / t, t / s])
  }),
)
printTable(
  `conv2d / maxPool2d float32, batch ${N}, 2 threads (median of ${RUNS}; kernel set: ${iv.cpuInfo().isa})`,
  ['shape', 'pass', 'unit', 'intern-vision', 'PyTorch', 'ratio'],
  rows,
)
printTable(
  `conv2d bfloat16 (float32 accumulation), batch ${N}, 2 threads, GFLOP/s (median of ${RUNS}; AVX512-BF16: ${iv.cpuInfo().bf16})`,
  ['shape', 'pass', 'intern-vision', 'PyTorch', 'ratio', 'over our float32'],
  convs.flatMap((c, i) =>
    oursBf16[i].map((s, j) => {
      const t = torchRows ? torchRows.bf16[i][j] : NaN
      return [c.name, passes[j], work(c) / s, work(c) / t, t / s, ours[cases.indexOf(c)][j] / s]
    }),
  ),
)
if (!hasTorch) console.log('(PyTorch not importable: install Debian python3-torch for the comparison columns)')

// matmul GFLOP/s, square and at shapes from ResNet/MetaNet training steps (M x K x N as
// im2col GEMMs see them), beside PyTorch CPU's (OpenBLAS) in the same run, 2 threads; then
// bfloat16 (float32 accumulation) beside our float32 and PyTorch's bfloat16 (oneDNN).
import * as iv from '../src'
import { hasTorch, printTable, timeIt, torchRun } from './util'

const shapes: [string, number, number, number][] = [
  ['256 square', 256, 256, 256],
  ['512 square', 512, 512, 512],
  ['1024 square', 1024, 1024, 1024],
  ['2048 square', 2048, 2048, 2048],
  ['conv 3x3 64ch 56px (3136x576x64)', 3136, 576, 64],
  ['conv 3x3 128ch 28px (784x1152x128)', 784, 1152, 128],
  ['stem 7x7 (12544x147x64)', 12544, 147, 64],
  ['linear 256x2048 -> 1000', 256, 2048, 1000],
  ['GEMV: vector x matrix (1x4096x4096)', 1, 4096, 4096],
  ['GEMV: matrix x vector (4096x4096x1)', 4096, 4096, 1],
  ['GEMV: linear, batch 1 (1x2048x1000)', 1, 2048, 1000],
]

iv.setNumThreads(2)
const ours = shapes.map(([, m, k, n]) => {
  const a = iv.randn([m, k])
  const b = iv.randn([k, n])
  const runs = m * k * n > 1e9 ? 5 : 15
  const s = timeIt(() => a.matmul(b).dispose(), runs, 2)
  return (2 * m * k * n) / s / 1e9
})
const oursBf16 = shapes.map(([, m, k, n]) => {
  const a = iv.randn([m, k]).to('bfloat16')
  const b = iv.randn([k, n]).to('bfloat16')
  const s = timeIt(() => a.matmul(b).dispose(), m * k * n > 1e9 ? 5 : 15, 2)
  return (2 * m * k * n) / s / 1e9
})

const torch = hasTorch
  ? torchRun<number[][]>(`
shapes = ${JSON.stringify(shapes.map(([, m, k, n]) => [m, k, n]))}
out = []
for m, k, n in shapes:
    a = torch.randn(m, k); b = torch.randn(k, n)
    s = timeit(lambda: torch.mm(a, b), 5 if m * k * n > 1e9 else 15, 2)
    a, b = a.bfloat16(), b.bfloat16()
    s16 = timeit(lambda: torch.mm(a, b), 5 if m * k * n > 1e9 else 15, 2)
    out.append([2 * m * k * n / s / 1e9, 2 * m * k * n / s16 / 1e9])
print(json.dumps(out))`)
  : null

printTable(
  `matmul float32, 2 threads, GFLOP/s (median; kernel set: ${iv.cpuInfo().isa})`,
  ['shape', 'M', 'K', 'N', 'intern-vision', 'PyTorch', 'ratio'],
  shapes.map(([name, m, k, n], i) => [
    name,
    m,
    k,
    n,
    ours[i],
    torch ? torch[i][0] : NaN,
    torch ? ours[i] / torch[i][0] : NaN,
  ]),
)
printTable(
  `matmul bfloat16 (float32 accumulation), 2 threads, GFLOP/s (median; AVX512-BF16: ${iv.cpuInfo().bf16})`,
  ['shape', 'M', 'K', 'N', 'intern-vision', 'PyTorch', 'ratio', 'over our float32'],
  shapes.map(([name, m, k, n], i) => [
    name,
    m,
    k,
    n,
    oursBf16[i],
    torch ? torch[i][1] : NaN,
    torch ? oursBf16[i] / torch[i][1] : NaN,
    oursBf16[i] / ours[i],
  ]),
)
if (!hasTorch) console.log('(PyTorch not importable: install Debian python3-torch for the comparison columns)')

import t from 'tap'
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'

// Every kernel set must compute the same thing: each child lowers the set with
// INTERN_VISION_ISA and prints a matmul, a few elementwise results, convolutions and a layer
// norm with their gradients.
const script = `
  const iv = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'src'))})
  iv.manualSeed(5)
  const a = iv.randn([67, 131]), b = iv.randn([131, 45])
  const y = a.matmul(b).add(1).gelu().sum(1)
  const d = iv.randn([33, 17], { dtype: 'float64' }).matmul(iv.randn([17, 29], { dtype: 'float64' })).sum(0)
  // Convolutions on every lowering: AVX-512's implicit GEMM (large planes, 20 channels: a
  // 14- and a short row tile), the image-batched one (small planes), stride phases; input
  // gradients as flipped forwards, weight gradients from padded images.
  const conv = []
  for (const [xs, ws, stride] of [[[3, 16, 12, 12], [20, 16, 3, 3], 1], [[5, 16, 6, 6], [16, 16, 3, 3], 1], [[2, 8, 13, 11], [16, 8, 3, 3], 2]]) {
    const x = iv.randn(xs).requiresGrad_(), w = iv.randn(ws).requiresGrad_()
    const out = iv.conv2d(x, w, null, { stride, padding: 1 })
    out.pow(2).sum().backward()
    conv.push(...out.sum([0, 2, 3]).data(), ...x.grad.sum([0, 1]).data(), ...w.grad.sum([0, 1]).data())
  }
  // Layer norm rows (vector rows on AVX2 and AVX-512, double sums on generic), a row tail too.
  const lx = iv.randn([9, 53]).mul(2).add(3).requiresGrad_(), lw = iv.randn([53]).requiresGrad_(), lb = iv.randn([53]).requiresGrad_()
  const ln = iv.layerNorm(lx, [53], lw, lb)
  ln.pow(2).sum().backward()
  conv.push(...ln.sum(1).data(), ...lx.grad.sum(1).data(), ...lw.grad.data(), ...lb.grad.data())
  y.data().forEach((v) => conv.push(v))
  console.log(JSON.stringify({ isa: iv.cpuInfo().isa, y: conv, d: Array.from(d.data()) }))
`

function run(isa: string): { isa: string; y: number[]; d: number[] } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    env: { ...process.env, INTERN_VISION_ISA: isa },
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout.trim().split('\n').pop()!)
}

t.test('generic, AVX2 and AVX-512 kernels agree', async (t) => {
  const generic = run('generic')
  t.equal(generic.isa, 'generic')
  for (const isa of ['avx2', 'avx512']) {
    const other = run(isa)
    if (other.isa !== isa) {
      t.comment(`this CPU lacks ${isa}; ran ${other.isa}`)
      continue
    }
    const worst = Math.max(...other.y.map((v, i) => Math.abs(v - generic.y[i]) / Math.max(1, Math.abs(generic.y[i]))))
    t.ok(worst < 1e-4, `${isa} float32 matches generic (worst relative ${worst.toExponential(2)})`)
    const worstD = Math.max(...other.d.map((v, i) => Math.abs(v - generic.d[i]) / Math.max(1, Math.abs(generic.d[i]))))
    t.ok(worstD < 1e-12, `${isa} float64 matches generic (worst relative ${worstD.toExponential(2)})`)
  }
})

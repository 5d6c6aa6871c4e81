import t from 'tap'
import { dtypeCode } from '../../src/backend/element-types'
import {
  batchNorm,
  gelu,
  gradcheck,
  groupNorm,
  layerNorm,
  randn,
  relu,
  silu,
  tensor,
  Generator,
  type Tensor,
} from '../../src'
import { cpuBackend } from '../../src/backend/cpu'
import { native } from '../../src/backend/native'
import { checkParity } from './fixture'
import { assertClose } from '../helpers'
import { shapeStr } from '../../src/tensor/shape'

const gen = new Generator(11)
const rg = (shape: number[]) => randn(shape, { dtype: 'float64', generator: gen }).requiresGrad_()
const r = (shape: number[], dtype: 'float32' | 'float64' = 'float64') => randn(shape, { dtype, generator: gen })

t.test(
  'batchNorm matches PyTorch (train/eval, [N, C] and NCHW, batch 1, running-stat updates, strided input)',
  async (t) => {
    checkParity(t, 'norm', 'batchNorm', (c, i) =>
      batchNorm(
        i.x,
        i.rm,
        i.rv,
        i.w ?? null,
        i.b ?? null,
        c.options as { training: boolean; momentum: number; eps: number },
      ),
    )
  },
)

t.test('layerNorm matches PyTorch', async (t) => {
  checkParity(t, 'norm', 'layerNorm', (c, i) =>
    layerNorm(i.x, c.options.normalizedShape as number[], i.w ?? null, i.b ?? null, c.options.eps as number),
  )
})

t.test('groupNorm matches PyTorch', async (t) => {
  checkParity(t, 'norm', 'groupNorm', (c, i) =>
    groupNorm(i.x, c.options.numGroups as number, i.w ?? null, i.b ?? null, c.options.eps as number),
  )
})

// float32 rows take the vector kernels (float lanes; layer norm's weight and bias gradients
// in float partial sums); float64 takes the double-sum loops. Rows shorter than a vector or
// with a tail, rows longer than one summation block, many row chunks and a large mean all
// have to agree, for each norm and each affine choice.
const norms: {
  name: string
  shapes: [number[], number][] // input shape and the weight's length
  apply: (x: Tensor, w: Tensor | null, b: Tensor | null) => Tensor
}[] = [
  {
    name: 'layerNorm',
    shapes: [
      [[3, 5], 5],
      [[200, 53], 53],
      [[130, 1100], 1100],
      [[70, 64], 64],
    ],
    apply: (x, w, b) => layerNorm(x, [x.shape[1]], w, b),
  },
  {
    name: 'batchNorm',
    shapes: [
      [[4, 3, 5], 3],
      [[3, 4, 53], 4],
      [[2, 3, 1100], 3],
    ],
    apply: (x, w, b) => batchNorm(x, null, null, w, b, { training: true }),
  },
  {
    name: 'groupNorm',
    shapes: [
      [[2, 4, 5], 4],
      [[3, 6, 53], 6],
      [[2, 2, 1100], 2],
    ],
    apply: (x, w, b) => groupNorm(x, 2, w, b),
  },
]
t.test('float32 norms and their gradients agree with the float64 kernels', async (t) => {
  const g = new Generator(3)
  for (const norm of norms)
    for (const [shape, C] of norm.shapes)
      for (const offset of [0, 50])
        for (const affine of ['both', 'weight', 'none'] as const) {
          const x32 = randn(shape, { generator: g }).mul(2).add(offset)
          const w32 = affine === 'none' ? null : randn([C], { generator: g })
          const b32 = affine === 'both' ? randn([C], { generator: g }) : null
          const go = randn(shape, { generator: g })
          const run = (dtype: 'float32' | 'float64') => {
            const [x, w, b] = [x32, w32, b32].map((p) => p && p.to(dtype).detach().requiresGrad_())
            norm.apply(x!, w, b).backward(go.to(dtype))
            return [norm.apply(x!, w, b), x!.grad, w?.grad, b?.grad]
          }
          const single = run('float32')
          const double = run('float64')
          const names = ['out', 'grad x', 'grad weight', 'grad bias']
          single.forEach((v, i) => {
            if (!v) return
            const want = double[i]!
            const scale = Math.max(1, want.abs().max().item())
            const where = `${norm.name} ${shapeStr(shape)} offset ${offset} ${affine}: ${names[i]}`
            assertClose(t, v.data(), want.data(), 1e-5, 2e-5 * scale, where)
          })
        }
})

t.test('float64 gradcheck', async (t) => {
  const rm = r([3])
  const rv = r([3]).abs().add(0.5)
  for (const training of [true, false]) {
    t.ok(
      gradcheck(
        (x, w, b) => batchNorm(x, rm, rv, w, b, { training, momentum: 0 }),
        [rg([2, 3, 2, 3]), rg([3]), rg([3])],
      ),
      `batchNorm training=${training}`,
    )
    t.ok(
      gradcheck((x) => batchNorm(x, rm, rv, null, null, { training, momentum: 0 }), [rg([4, 3])]),
      `batchNorm [N, C] training=${training}`,
    )
  }
  t.ok(
    gradcheck((x, w, b) => layerNorm(x, [2, 3], w, b), [rg([3, 2, 3]), rg([2, 3]), rg([2, 3])]),
    'layerNorm',
  )
  t.ok(
    gradcheck((x) => layerNorm(x, 5), [rg([1, 5])]),
    'layerNorm batch 1, no affine',
  )
  t.ok(
    gradcheck((x, w, b) => groupNorm(x, 2, w, b), [rg([2, 4, 3]), rg([4]), rg([4])]),
    'groupNorm',
  )
  t.ok(
    gradcheck((x) => groupNorm(x, 3, null, null), [rg([1, 6, 2, 2])]),
    'groupNorm no affine',
  )
})

t.test('batchNorm updates running stats with momentum and the unbiased variance; eval leaves them', async (t) => {
  const x = tensor(
    [
      [1, 2],
      [3, 6],
      [5, 10],
    ],
    { dtype: 'float64' },
  )
  const rm = tensor([0, 1], { dtype: 'float64' })
  const rv = tensor([1, 1], { dtype: 'float64' })
  batchNorm(x, rm, rv, null, null, { training: true, momentum: 0.25 })
  // means [3, 6], unbiased variances [4, 16]
  assertClose(t, rm.data(), [0.75 * 0 + 0.25 * 3, 0.75 * 1 + 0.25 * 6], 1e-12, 1e-12, 'running mean')
  assertClose(t, rv.data(), [0.75 + 0.25 * 4, 0.75 + 0.25 * 16], 1e-12, 1e-12, 'running var')
  const y = batchNorm(x, rm, rv, null, null, { training: false })
  assertClose(t, rm.data(), [0.75, 2.25], 1e-12, 1e-12, 'eval leaves the running mean')
  assertClose(
    t,
    y.data(),
    Array.from(x.data(), (v, i) => (v - [0.75, 2.25][i % 2]) / Math.sqrt([1.75, 4.75][i % 2] + 1e-5)),
    1e-12,
    1e-12,
    'eval output',
  )
})

t.test('large-channel shapes stay accurate in float32 (two-pass statistics)', async (t) => {
  const x = r([4, 8, 32, 32], 'float32').mul(0.1).add(1000) // mean far from zero: E[x^2]-E[x]^2 would cancel
  const y = batchNorm(x, null, null, null, null, { training: true })
  const m = y.mean([0, 2, 3]).data()
  const v = y.var([0, 2, 3], { correction: 0 }).data()
  for (let c = 0; c < 8; c++) {
    t.ok(Math.abs(m[c]) < 1e-3, `channel ${c} mean ${m[c]}`)
    t.ok(Math.abs(v[c] - 1) < 2e-2, `channel ${c} variance ${v[c]}`)
  }
})

t.test('bad inputs get clear errors', async (t) => {
  const x = r([2, 3, 4])
  t.throws(
    () => batchNorm(x, r([4]), r([4])),
    /batchNorm: runningMean has shape \[4\], expected \[3\] for input \[2, 3, 4\]/,
  )
  t.throws(() => batchNorm(x, null, null), /batchNorm: evaluation mode .* needs runningMean and runningVar/)
  t.throws(() => batchNorm(r([1, 3]), null, null, null, null, { training: true }), /more than 1 value per channel/)
  t.throws(
    () => batchNorm(r([3]), null, null, null, null, { training: true }),
    /batchNorm: input must be \[N, C, \.\.\.\], got shape \[3\]/,
  )
  t.throws(
    () => batchNorm(x.int(), null, null, null, null, { training: true }),
    /batchNorm: input must be floating-point, got int32/,
  )
  t.throws(() => batchNorm(x, r([3], 'float32'), r([3])), /batchNorm: runningMean is float32 but the input is float64/)
  t.throws(() => batchNorm(x, r([3]), r([3]), null, null, { momentum: 2 }), /momentum must be in \[0, 1\]/)
  t.throws(() => layerNorm(x, [3]), /layerNorm: input \[2, 3, 4\] does not end with normalizedShape \[3\]/)
  t.throws(() => layerNorm(x, [4], r([3])), /layerNorm: weight has shape \[3\], expected \[4\]/)
  t.throws(
    () => groupNorm(x, 2),
    /groupNorm: numGroups 2 must be a positive integer dividing the 3 channels of input \[2, 3, 4\]/,
  )
  const d = r([2, 3])
  d.dispose()
  t.throws(() => layerNorm(d, 3), /layerNorm: the tensor of shape \[2, 3\] was disposed/)
})

t.test('batchNorm with an activation: the composition in one kernel, gradients included', async (t) => {
  const acts = { relu, gelu, silu } as const
  for (const act of ['relu', 'gelu', 'silu'] as const) {
    // float64 against finite differences, with and without the affine parameters, in both modes.
    const rm = r([3])
    const rv = r([3]).abs().add(0.5)
    for (const training of [true, false]) {
      t.ok(
        gradcheck(
          (x, w, b) => batchNorm(x, rm, rv, w, b, { training, momentum: 0, activation: act }),
          [rg([2, 3, 2, 3]), rg([3]), rg([3])],
        ),
        `${act} training=${training}: gradcheck`,
      )
    }
    t.ok(
      gradcheck((x) => batchNorm(x, null, null, null, null, { training: true, activation: act }), [rg([5, 3])]),
      `${act} [N, C], no affine: gradcheck`,
    )
    // float32 (the vector rows) against the two ops it fuses, at sizes past a vector's width,
    // and below 64 positions (the ops apart); the running statistics move the same.
    for (const [shape, training] of [
      [[4, 5, 8, 9], true],
      [[3, 20, 70], false],
      [[5, 3, 2, 3], true],
    ] as const) {
      const C = shape[1]
      const x = r([...shape], 'float32')
      const w = r([C], 'float32')
      const b = r([C], 'float32')
      const g = r([...shape], 'float32')
      const run = (fused: boolean) => {
        const [xv, wv, bv] = [x, w, b].map((v) => v.detach().requiresGrad_())
        const rmv = r([C], 'float32').mul(0).add(0.2)
        const rvv = r([C], 'float32').mul(0).add(1.5)
        const opts = { training, momentum: 0.3 }
        const y = fused
          ? batchNorm(xv, rmv, rvv, wv, bv, { ...opts, activation: act })
          : acts[act](batchNorm(xv, rmv, rvv, wv, bv, opts))
        y.backward(g)
        return [y, xv.grad as Tensor, wv.grad as Tensor, bv.grad as Tensor, rmv, rvv]
      }
      const fused = run(true)
      const apart = run(false)
      const names = ['output', 'input gradient', 'weight gradient', 'bias gradient', 'running mean', 'running var']
      fused.forEach((v, i) =>
        assertClose(
          t,
          v.data(),
          apart[i].data(),
          1e-5,
          1e-5,
          `${act} ${shapeStr(shape)} training=${training}: ${names[i]}`,
        ),
      )
    }
  }
  // Only the weight's and bias's gradients wanted: gz goes through a row of scratch.
  const x = r([6, 4, 65], 'float32')
  const w = r([4], 'float32').requiresGrad_()
  const b = r([4], 'float32').requiresGrad_()
  const g = r([6, 4, 65], 'float32')
  batchNorm(x, null, null, w, b, { training: true, activation: 'gelu' }).backward(g)
  const w2 = w.detach().requiresGrad_()
  const b2 = b.detach().requiresGrad_()
  gelu(batchNorm(x, null, null, w2, b2, { training: true })).backward(g)
  assertClose(t, (w.grad as Tensor).data(), (w2.grad as Tensor).data(), 1e-5, 1e-5, 'weight gradient alone')
  assertClose(t, (b.grad as Tensor).data(), (b2.grad as Tensor).data(), 1e-5, 1e-5, 'bias gradient alone')
  // Eval mode with only the input's gradient wanted: no sums needed, gz still formed.
  const rm = r([4], 'float32')
  const rv = r([4], 'float32').abs().add(0.5)
  const xa = x.detach().requiresGrad_()
  batchNorm(xa, rm, rv, w.detach(), b.detach(), { activation: 'silu' }).backward(g)
  const xb = x.detach().requiresGrad_()
  silu(batchNorm(xb, rm, rv, w.detach(), b.detach())).backward(g)
  assertClose(t, (xa.grad as Tensor).data(), (xb.grad as Tensor).data(), 1e-5, 1e-5, 'eval, input gradient alone')
  t.throws(
    () => batchNorm(x, null, null, null, null, { training: true, activation: 'tanh' as 'relu' }),
    /batchNorm: activation must be 'relu', 'gelu' or 'silu', got 'tanh'/,
  )
})

const desc = (x: Tensor) => [x.storage.handle as ArrayBuffer, x.offset, x.shape, x.strides, dtypeCode[x.dtype]]

t.test('native entry points reject malformed descriptors', async (t) => {
  const n = native as unknown as Record<string, (...a: unknown[]) => unknown>
  const x = r([2, 3, 4])
  const out = r([2, 3, 4])
  const c3 = r([3])
  const bad = [x.storage.handle, 0, [2, 3, 40], [12, 4, 1], 1]
  t.throws(
    () => n.batchNormForward(desc(out), bad, null, null, null, null, desc(c3), desc(c3), true, 0.1, 1e-5, 'none'),
    /batchNormForward: argument 'x': view \[2, 3, 40\] at offset 0 exceeds its storage/,
  )
  t.throws(
    () =>
      n.batchNormForward(desc(out), desc(x), null, null, null, null, desc(r([2])), desc(c3), true, 0.1, 1e-5, 'none'),
    /batchNormForward: argument 'saveMean' must be a contiguous float64 tensor of shape \[3\]/,
  )
  t.throws(
    () =>
      n.batchNormForward(
        desc(out),
        desc(x.transpose(0, 1)),
        null,
        null,
        null,
        null,
        desc(c3),
        desc(c3),
        true,
        0.1,
        1e-5,
        'none',
      ),
    /batchNormForward: argument 'x' must be a contiguous float \[N, C, S\] tensor/,
  )
  t.throws(() => n.batchNormForward(desc(out), desc(x)), /batchNormForward: expected 12 arguments, got 2/)
  t.throws(
    () => n.batchNormForward(desc(out), desc(x), null, null, null, null, desc(c3), desc(c3), true, 0.1, 1e-5, 'tanh'),
    /batchNormForward: unknown activation 'tanh' \(expected none, relu, gelu or silu\)/,
  )
  t.throws(
    () => n.layerNormForward(desc(out), desc(x.reshape([6, 4])), null, null, desc(r([6])), desc(r([6])), 1e-5),
    /layerNormForward: argument 'out' must be a contiguous float64 tensor of shape \[6, 4\]/,
  )
  t.throws(
    () => n.groupNormForward(desc(out), desc(x), 2, null, null, desc(r([2, 2])), desc(r([2, 2])), 1e-5),
    /groupNormForward: numGroups 2 must be positive and divide the 3 channels/,
  )
  t.throws(
    () =>
      n.layerNormBackward(
        null,
        null,
        null,
        desc(r([6, 4], 'float32')),
        desc(x.reshape([6, 4])),
        null,
        desc(r([6])),
        desc(r([6])),
      ),
    /layerNormBackward: argument 'grad' must be a contiguous float64 tensor/,
  )
  // A disposed tensor never reaches the kernel: its memory may already be another's.
  const gone = r([6, 4])
  gone.dispose()
  t.throws(
    () => cpuBackend.run('layerNormForward', out.reshape([6, 4]), gone, null, null, r([6]), r([6]), 1e-5),
    /layerNormForward: argument 1: the tensor of shape \[6, 4\] was disposed/,
  )
})

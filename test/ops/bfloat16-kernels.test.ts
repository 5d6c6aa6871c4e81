// matmul, linear and conv2d (forward, fused activation, both gradients) on bfloat16 tensors run
// native bfloat16 kernels with float32 accumulation: each output must be the correct rounding
// of the exact result (computed in float64 from the same bfloat16 inputs) up to float32
// accumulation error, and never more than one ulp past it. The bound on the accumulation error
// comes from the same op on absolute values. Every kernel set is exercised on the raw entry
// points by test/native/bfloat16-kernels.test.ts.
import t, { type Test } from 'tap'
import * as iv from '../../src'
import { native } from '../../src/backend/native'
import type { Tensor } from '../../src'

t.ok(
  ['matmul', 'conv2d', 'conv2dBackwardInput', 'conv2dBackwardWeight'].every((k) =>
    (native.bfloat16Kernels as string[]).includes(k),
  ),
  'the addon runs matmul and the convolutions in bfloat16 itself',
)

/**
 * Checks bfloat16 `out` against the exact `ref` (float64), where `absSum` (float64) bounds the
 * magnitude of the `terms` products behind each element: no element past 1.5 ulp of ref plus
 * accumulation error, and at most 1% not correctly rounded (ties within that error aside).
 */
function checkRounding(t: Test, what: string, out: Tensor, ref: Tensor, absSum: Tensor, terms: number): void {
  t.equal(out.dtype, 'bfloat16', `${what}: bfloat16 out`)
  t.same(out.shape, ref.shape, `${what}: shape`)
  const o = out.data(),
    r = ref.data(),
    s = absSum.data()
  let worst = 0,
    misrounded = 0
  for (let i = 0; i < r.length; i++) {
    const ulp = r[i] === 0 ? 2 ** -133 : 2 ** (Math.floor(Math.log2(Math.abs(r[i]))) - 7)
    const accumulation = 2 * terms * 2 ** -24 * s[i] + 4 * 2 ** -24 * Math.abs(r[i])
    const err = Number.isFinite(o[i]) ? Math.abs(o[i] - r[i]) : Infinity
    worst = Math.max(worst, err / (1.5 * ulp + accumulation))
    if (err > 0.5 * ulp + accumulation) misrounded++
  }
  t.ok(worst <= 1, `${what}: within one ulp of the correct rounding (worst ${worst.toFixed(3)} of 1.5 ulp)`)
  t.ok(misrounded <= r.length / 100, `${what}: ${misrounded} of ${r.length} not the correct rounding`)
}

const bf16 = (shape: number[]) => iv.randn(shape).to('bfloat16')
const f64 = (x: Tensor) => x.detach().to('float64')

t.test('matmul: odd K, transposed and broadcast operands, gradients', async (t) => {
  iv.manualSeed(1)
  const cases: [string, number[], number[], (x: Tensor) => Tensor, (x: Tensor) => Tensor][] = [
    ['37x67 @ 67x45', [37, 67], [67, 45], (a) => a, (b) => b],
    ['K = 1', [5, 1], [1, 33], (a) => a, (b) => b],
    ['K = 1101', [29, 1101], [1101, 70], (a) => a, (b) => b],
    ['a transposed', [23, 19], [23, 40], (a) => a.transpose(0, 1), (b) => b],
    ['b transposed', [21, 45], [35, 45], (a) => a, (b) => b.transpose(0, 1)],
    ['batched a, one b broadcast', [3, 16, 40], [40, 33], (a) => a, (b) => b],
  ]
  for (const [name, as, bs, ta, tb] of cases) {
    const a = bf16(as).requiresGrad_(),
      b = bf16(bs).requiresGrad_()
    const y = iv.matmul(ta(a), tb(b))
    const a64 = f64(a).requiresGrad_(),
      b64 = f64(b).requiresGrad_()
    const y64 = iv.matmul(ta(a64), tb(b64))
    const aAbs = f64(a).abs().requiresGrad_(),
      bAbs = f64(b).abs().requiresGrad_()
    const yAbs = iv.matmul(ta(aAbs), tb(bAbs))
    const K = ta(a).shape.at(-1)!
    checkRounding(t, `matmul ${name}`, y, y64, yAbs, K)
    const gy = bf16(y.shape)
    y.backward(gy)
    y64.backward(f64(gy))
    yAbs.backward(f64(gy).abs())
    checkRounding(t, `matmul ${name}, grad a`, a.grad!, a64.grad!, aAbs.grad!, y.shape.at(-1)!)
    // A broadcast b's gradient sums the batch's products in float32 and rounds once.
    checkRounding(t, `matmul ${name}, grad b`, b.grad!, b64.grad!, bAbs.grad!, y.numel / y.shape.at(-1)!)
  }
})

t.test('linear: bias added in float32 before the one rounding', async (t) => {
  iv.manualSeed(2)
  const x = bf16([31, 57]),
    w = bf16([26, 57]),
    b = bf16([26])
  const y = iv.linear(x, w, b)
  const ref = iv.linear(f64(x), f64(w), f64(b))
  const abs = iv.linear(f64(x).abs(), f64(w).abs(), f64(b).abs())
  checkRounding(t, 'linear', y, ref, abs, 58)
})

interface ConvCase {
  name: string
  x: number[]
  w: number[]
  opts: iv.Conv2dOptions
}
const convCases: ConvCase[] = [
  { name: '3x3 pad 1', x: [2, 5, 9, 10], w: [7, 5, 3, 3], opts: { padding: 1 } },
  { name: '3x3 small planes (image blocks)', x: [3, 4, 6, 6], w: [9, 4, 3, 3], opts: { padding: 1 } },
  {
    name: 'stride 2, dilation 2',
    x: [2, 3, 13, 12],
    w: [6, 3, 3, 2],
    opts: { stride: 2, padding: [2, 1], dilation: 2 },
  },
  { name: "4x4 'same' (asymmetric padding)", x: [2, 3, 9, 8], w: [5, 3, 4, 4], opts: { padding: 'same' } },
  { name: 'groups 2', x: [2, 6, 10, 9], w: [4, 3, 3, 3], opts: { padding: 1, groups: 2 } },
  { name: 'depthwise x2, stride 2', x: [2, 4, 11, 11], w: [8, 1, 3, 3], opts: { stride: 2, padding: 1, groups: 4 } },
  { name: 'depthwise 5x5', x: [3, 6, 7, 7], w: [6, 1, 5, 5], opts: { padding: 2, groups: 6 } },
  { name: '1x1', x: [2, 3, 10, 11], w: [8, 3, 1, 1], opts: {} },
  { name: '1x1 stride 2', x: [2, 7, 12, 12], w: [5, 7, 1, 1], opts: { stride: 2 } },
  { name: '3x3, column tiles over threads', x: [2, 16, 48, 48], w: [8, 16, 3, 3], opts: { padding: 1 } },
]

t.test('conv2d forward and gradients (input, weight, bias) in every form', async (t) => {
  iv.manualSeed(3)
  for (const c of convCases) {
    const [K, Cg, kh, kw] = c.w
    const x = bf16(c.x).requiresGrad_(),
      w = bf16(c.w).requiresGrad_(),
      b = bf16([K]).requiresGrad_()
    const y = iv.conv2d(x, w, b, c.opts)
    const [x64, w64, b64] = [x, w, b].map((v) => f64(v).requiresGrad_())
    const y64 = iv.conv2d(x64, w64, b64, c.opts)
    const [xa, wa, ba] = [x, w, b].map((v) => f64(v).abs().requiresGrad_())
    const ya = iv.conv2d(xa, wa, ba, c.opts)
    checkRounding(t, `conv2d ${c.name}`, y, y64, ya, Cg * kh * kw + 1)
    const gy = bf16(y.shape)
    y.backward(gy)
    y64.backward(f64(gy))
    ya.backward(f64(gy).abs())
    const positions = y.numel / K
    checkRounding(t, `conv2d ${c.name}, grad input`, x.grad!, x64.grad!, xa.grad!, (K / (c.opts.groups ?? 1)) * kh * kw)
    checkRounding(t, `conv2d ${c.name}, grad weight`, w.grad!, w64.grad!, wa.grad!, positions)
    checkRounding(t, `conv2d ${c.name}, grad bias`, b.grad!, b64.grad!, ba.grad!, positions)
  }
})

t.test('conv2d with a fused activation rounds the activated float32 value once', async (t) => {
  iv.manualSeed(4)
  const acts = { relu: iv.relu, gelu: iv.gelu, silu: iv.silu } as const
  for (const [i, act] of (['relu', 'gelu', 'silu'] as const).entries()) {
    const c = convCases[i]
    const x = bf16(c.x),
      w = bf16(c.w),
      b = bf16([c.w[0]])
    const y = iv.conv2d(x, w, b, { ...c.opts, activation: act })
    const ref = acts[act](iv.conv2d(f64(x), f64(w), f64(b), c.opts))
    // The activations' slopes stay below 1.2, so the pre-activation's error bound carries over.
    const abs = iv.conv2d(f64(x).abs(), f64(w).abs(), f64(b).abs(), c.opts).mul(1.2)
    checkRounding(t, `conv2d ${c.name} + ${act}`, y, ref, abs, c.w[1] * c.w[2] * c.w[3] + 1)
  }
})

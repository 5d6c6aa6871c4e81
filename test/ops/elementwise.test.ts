import t from 'tap'
import * as iv from '../../src'
import { assertClose, leaf } from '../helpers'
import { checkParity } from './fixture'

iv.manualSeed(1)

const erf = (x: number): number => {
  // Abramowitz-Stegun 7.1.26 is too coarse for 1e-6; integrate the series instead.
  let sum = x
  let term = x
  for (let n = 1; n < 60; n++) {
    term *= (-x * x) / n
    sum += term / (2 * n + 1)
  }
  return (2 / Math.sqrt(Math.PI)) * sum
}
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))
const hsig = (x: number) => Math.min(Math.max(x / 6 + 0.5, 0), 1)

const unary: [string, (x: iv.Tensor) => iv.Tensor, (x: number) => number, boolean?][] = [
  ['neg', (x) => x.neg(), (x) => -x],
  ['abs', (x) => x.abs(), Math.abs],
  ['exp', (x) => x.exp(), Math.exp],
  ['log', (x) => x.log(), Math.log, true],
  ['log1p', (x) => x.log1p(), Math.log1p, true],
  ['sqrt', (x) => x.sqrt(), Math.sqrt, true],
  ['rsqrt', (x) => x.rsqrt(), (x) => 1 / Math.sqrt(x), true],
  ['square', (x) => x.square(), (x) => x * x],
  ['reciprocal', (x) => x.reciprocal(), (x) => 1 / x, true],
  ['sin', (x) => x.sin(), Math.sin],
  ['cos', (x) => x.cos(), Math.cos],
  ['tanh', (x) => x.tanh(), Math.tanh],
  ['sigmoid', (x) => x.sigmoid(), sigmoid],
  ['relu', (x) => x.relu(), (x) => Math.max(x, 0)],
  ['gelu', (x) => x.gelu(), (x) => 0.5 * x * (1 + erf(x / Math.SQRT2))],
  [
    'geluTanh',
    (x) => x.gelu('tanh'),
    (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  ],
  ['silu', (x) => x.silu(), (x) => x * sigmoid(x)],
  ['hardsigmoid', (x) => x.hardsigmoid(), hsig],
  ['hardswish', (x) => x.hardswish(), (x) => x * hsig(x)],
  ['leakyRelu', (x) => x.leakyRelu(0.1), (x) => (x > 0 ? x : 0.1 * x)],
  ['clamp', (x) => x.clamp(-0.5, 0.7), (x) => Math.min(Math.max(x, -0.5), 0.7)],
  ['powScalar', (x) => x.pow(3), (x) => x ** 3],
]

t.test('unary ops match JS math and pass gradcheck', async (t) => {
  for (const [name, fn, ref, positive] of unary) {
    for (const dtype of ['float32', 'float64'] as const) {
      // |x| <= ~4 keeps the series erf reference exact to double precision
      let x = iv.randn([3, 17], { dtype }).mul(name.startsWith('gelu') ? 1 : 3)
      if (positive) x = x.abs().add(0.1)
      const expected = Array.from(x.data(), ref)
      assertClose(
        t,
        fn(x).data(),
        expected,
        dtype === 'float32' ? 1e-5 : 1e-12,
        dtype === 'float32' ? 1e-6 : 1e-12,
        `${name} ${dtype}`,
      )
      // a non-contiguous input takes the strided path
      const xt = x.t()
      assertClose(t, fn(xt).contiguous().data(), Array.from(xt.contiguous().data(), ref), 1e-5, 1e-6, `${name} strided`)
    }
    // Kinks (relu at 0, clamp bounds, hardsigmoid at +-3) are avoided by the random draw.
    t.ok(iv.gradcheck(fn, [leaf([2, 5], positive)]), `${name} gradcheck`)
  }
})

t.test('sigmoid and silu keep their accuracy in both tails, and NaN and infinities', async (t) => {
  const xs = [-100, -87, -80, -50, -20, -5, -1e-3, 0, 1e-3, 5, 20, 50, 100, -Infinity, Infinity]
  for (const n of [xs.length, 40]) {
    // 40 values: whole vectors of every width and a partial one
    const v = Array.from({ length: n }, (_, i) => xs[i % xs.length])
    const got = iv.tensor(v).sigmoid().data()
    v.forEach((x, i) => {
      const want = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))
      // below float32's normal range (about 1e-38) only the absolute error is small
      t.ok(Math.abs(got[i] - want) <= Math.max(2e-6 * want, 1e-38), `sigmoid(${x}) = ${got[i]}, want ${want}`)
    })
  }
  t.ok(Number.isNaN(iv.tensor([0, NaN, 1]).sigmoid().data()[1]), 'sigmoid(NaN) is NaN')
  // silu = x sigmoid(x), d/dx = s (1 + x (1 - s)); values below 1e-38 are float32 subnormals
  const xs2 = [-100, -90, -1, 3, 100]
  const sig = (v: number) => 1 / (1 + Math.exp(-v))
  const x = iv.tensor(xs2).requiresGrad_()
  const y = x.silu()
  y.sum().backward()
  assertClose(
    t,
    y.data(),
    xs2.map((v) => v * sig(v)),
    1e-6,
    1e-38,
    'silu in the tails',
  )
  assertClose(
    t,
    (x.grad as iv.Tensor).data(),
    xs2.map((v) => sig(v) * (1 + v * (1 - sig(v)))),
    1e-5,
    1e-38,
    'silu gradient in the tails',
  )
})

t.test('gelu and silu gradients in float32 (the vector rows) match their derivatives', async (t) => {
  // 37 values: whole vectors of every width and a partial one; gelu within the series erf's
  // exact range, silu out to where its gradient leaves float32's normal range.
  const grid = (lo: number, hi: number) => Array.from({ length: 37 }, (_, i) => lo + ((hi - lo) * i) / 36)
  const pdf = (v: number) => Math.exp((-v * v) / 2) / Math.sqrt(2 * Math.PI)
  const sig = (v: number) => 1 / (1 + Math.exp(-v))
  const cases = [
    ['gelu', grid(-4, 4), (x: iv.Tensor) => x.gelu(), (v: number) => 0.5 * (1 + erf(v / Math.SQRT2)) + v * pdf(v)],
    ['silu', grid(-95, 30), (x: iv.Tensor) => x.silu(), (v: number) => sig(v) * (1 + v * (1 - sig(v)))],
  ] as const
  for (const [name, v, fn, grad] of cases) {
    const x = iv.tensor(v).requiresGrad_()
    const g = iv.tensor(v.map((_, i) => 1 + (i % 3)))
    fn(x).backward(g)
    assertClose(
      t,
      (x.grad as iv.Tensor).data(),
      v.map((a, i) => (1 + (i % 3)) * grad(a)),
      1e-5,
      1e-30,
      `${name} gradient`,
    )
    // From sum(): the incoming gradient is an expanded scalar (inner stride 0).
    const x2 = iv.tensor(v).requiresGrad_()
    fn(x2).sum().backward()
    assertClose(t, (x2.grad as iv.Tensor).data(), v.map(grad), 1e-5, 1e-30, `${name} gradient from sum()`)
  }
})

t.test(
  'hardswish and its gradient in float32 vectors: the kinks at +-3, whole vectors and a partial one',
  async (t) => {
    const base = [-10, -3.5, -3, -2.2, 0, 1.7, 3, 3.5, 10]
    const v = Array.from({ length: 37 }, (_, i) => base[i % base.length] + (i >= base.length ? (i % 5) * 0.01 : 0))
    const x = iv.tensor(v).requiresGrad_()
    const g = iv.tensor(v.map((_, i) => 1 + (i % 3)))
    const y = x.hardswish()
    y.backward(g)
    assertClose(
      t,
      y.data(),
      v.map((a) => (a * Math.min(Math.max(a + 3, 0), 6)) / 6),
      1e-6,
      1e-6,
      'hardswish',
    )
    const dy = v.map((a, i) => (1 + (i % 3)) * (a < -3 ? 0 : a > 3 ? 1 : a / 3 + 0.5))
    assertClose(
      t,
      (x.grad as iv.Tensor).data(),
      dy,
      1e-6,
      1e-6,
      'hardswish gradient (x = 3 takes the middle piece, as in PyTorch)',
    )
  },
)

t.test('pow with a scalar exponent: each short form (1, 2, 3, 0.5, -0.5, -1, -2) and the general one', async (t) => {
  checkParity(t, 'elementwise', 'pow', (c, i) => i.x.pow(c.options.exponent as number))
  for (const b of [1, 2, 3, 0.5, -0.5, -1, -2, 2.5, -1.5]) {
    for (const dtype of ['float32', 'float64'] as const) {
      const x = iv.rand([5, 37], { dtype }).add(0.2)
      const tol = dtype === 'float32' ? 1e-6 : 1e-14
      assertClose(
        t,
        x.pow(b).data(),
        Array.from(x.data(), (v) => v ** b),
        tol,
        0,
        `x^${b} ${dtype}`,
      )
      // a broadcast upstream gradient (from sum) and a transposed input take the strided loops
      const xt = x.t().detach().requiresGrad_()
      xt.pow(b).sum().backward()
      const gx = (xt.grad as iv.Tensor).contiguous().data()
      assertClose(
        t,
        gx,
        Array.from(xt.contiguous().data(), (v) => b * v ** (b - 1)),
        tol,
        0,
        `d x^${b} / dx ${dtype}`,
      )
    }
    t.ok(
      iv.gradcheck((x) => x.pow(b), [leaf([3, 4], true)]),
      `pow ${b} gradcheck`,
    )
  }
  const z = iv.zeros([2])
  t.throws(
    () => z.backend.run('powScalarBackward', z, z.double(), z, 3),
    /powScalarBackward: out, x and gradOut must share a float dtype, got float32, float64 and float32/,
  )
  t.throws(
    () => z.backend.run('powScalarBackward', z, iv.zeros([3]), z, 3),
    /powScalarBackward: argument 'x' has shape \[3\] but the output has shape \[2\]/,
  )
})

t.test('binary ops broadcast, promote and differentiate', async (t) => {
  const a = iv.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ])
  const b = iv.tensor([10, 20, 30])
  t.same(a.add(b).toArray(), [
    [11, 22, 33],
    [14, 25, 36],
  ])
  t.same(a.sub(b, 2).toArray(), [
    [-19, -38, -57],
    [-16, -35, -54],
  ])
  t.same(a.mul(iv.tensor([[2], [3]])).toArray(), [
    [2, 4, 6],
    [12, 15, 18],
  ])
  t.same(iv.tensor([1, 2], { dtype: 'int32' }).div(2).toArray(), [0.5, 1])
  t.equal(iv.tensor([1, 2], { dtype: 'int32' }).add(1).dtype, 'int32')
  t.equal(iv.tensor([1, 2], { dtype: 'int32' }).add(0.5).dtype, 'float32')
  t.equal(iv.tensor([1], { dtype: 'float64' }).add(iv.tensor([1])).dtype, 'float64')
  t.same(a.gt(2.5).toArray(), [
    [false, false, true],
    [true, true, true],
  ])
  t.same(iv.maximum(a, 3.5).toArray(), [
    [3.5, 3.5, 3.5],
    [4, 5, 6],
  ])
  t.same(iv.tensor([-7, 7], { dtype: 'int32' }).remainder(3).toArray(), [2, 1])
  t.same(iv.where(a.gt(3), a, b).toArray(), [
    [10, 20, 30],
    [4, 5, 6],
  ])
  const fns: [string, (x: iv.Tensor, y: iv.Tensor) => iv.Tensor][] = [
    ['add', (x, y) => x.add(y, 0.5)],
    ['sub', (x, y) => x.sub(y)],
    ['mul', (x, y) => x.mul(y)],
    ['div', (x, y) => x.div(y)],
    ['pow', (x, y) => x.pow(y)],
    ['maximum', (x, y) => iv.maximum(x, y)],
    ['minimum', (x, y) => iv.minimum(x, y)],
    ['where', (x, y) => iv.where(x.gt(1), x, y)],
  ]
  for (const [name, fn] of fns) {
    // broadcast in both directions: [3,1,4] with [5,1]
    t.ok(iv.gradcheck(fn, [leaf([3, 1, 4], true), leaf([5, 1], true)]), `${name} gradcheck with broadcasting`)
  }
})

t.test('elementwise ops reject bad input clearly', async (t) => {
  const a = iv.zeros([2, 3])
  t.throws(() => a.add(iv.zeros([4])), /add: shapes \[2, 3\] and \[4\] cannot be broadcast/)
  t.throws(() => a.add('x' as never), /add: argument 'other' must be a Tensor or a number/)
  t.throws(() => iv.tensor([true]).neg(), /op 'neg' is not defined for bool/)
  t.throws(() => a.clamp(), /at least one of min and max/)
  t.throws(() => a.clamp(2, 1), /min 2 is greater than max 1/)
  const d = iv.ones([2])
  d.dispose()
  t.throws(() => d.add(1), /was disposed/)
  // The backend's own calls too (unary and binary take a direct path when all is well): a
  // disposed tensor's memory may already belong to another.
  const out = iv.zeros([2])
  t.throws(
    () => out.backend.binary('add', out, iv.ones([2]), d),
    /binary: argument 3: the tensor of shape \[2\] was disposed/,
  )
  t.throws(() => out.backend.unary('neg', d, out), /unary: argument 1: the tensor of shape \[2\] was disposed/)
})

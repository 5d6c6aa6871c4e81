import t from 'tap'
import { empty, zeros } from '../../src/tensor/creation'
import { Generator, manualSeed } from '../../src/tensor/random'
import type { Tensor } from '../../src/tensor/tensor'
import { init } from '../../src/nn'

const N = 20000

function stats(x: Tensor): { mean: number; std: number; min: number; max: number } {
  const v = Array.from(x.data())
  const mean = v.reduce((a, b) => a + b, 0) / v.length
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length)
  return { mean, std, min: Math.min(...v), max: Math.max(...v) }
}

// With N = 20000 draws the sample mean and std are within about 1% of the truth (several sigma).
const near = (got: number, want: number, tol: number) => Math.abs(got - want) <= tol

t.test('fans and gains follow torch', async (t) => {
  t.same(init.calculateFanInAndFanOut(empty([16, 8, 3, 3])), { fanIn: 72, fanOut: 144 })
  t.same(init.calculateFanInAndFanOut(empty([5, 7])), { fanIn: 7, fanOut: 5 })
  t.throws(
    () => init.calculateFanInAndFanOut(empty([5])),
    /fan in and fan out need a tensor of at least 2 dims, got shape \[5\]/,
  )
  t.equal(init.calculateGain('relu'), Math.SQRT2)
  t.equal(init.calculateGain('tanh'), 5 / 3)
  t.equal(init.calculateGain('leakyRelu', Math.sqrt(5)), Math.sqrt(1 / 3))
  t.equal(init.calculateGain('conv2d'), 1)
  t.throws(() => init.calculateGain('swish' as never), /calculateGain: unsupported nonlinearity 'swish'/)
})

t.test('distributions have the documented moments and bounds', async (t) => {
  manualSeed(0)
  const u = stats(init.uniform_(empty([N]), -2, 4))
  t.ok(
    u.min >= -2 && u.max < 4 && near(u.mean, 1, 0.05) && near(u.std, 6 / Math.sqrt(12), 0.03),
    `uniform_ ${JSON.stringify(u)}`,
  )
  const n = stats(init.normal_(empty([N]), 3, 0.5))
  t.ok(near(n.mean, 3, 0.015) && near(n.std, 0.5, 0.01), `normal_ ${JSON.stringify(n)}`)
  const w = empty([100, 200])
  const xu = stats(init.xavierUniform_(w, 2))
  const a = 2 * Math.sqrt(6 / 300)
  t.ok(xu.min >= -a && xu.max <= a && near(xu.std, a / Math.sqrt(3), 0.01 * a), `xavierUniform_ ${JSON.stringify(xu)}`)
  const xn = stats(init.xavierNormal_(w))
  t.ok(near(xn.std, Math.sqrt(2 / 300), 0.002), `xavierNormal_ ${JSON.stringify(xn)}`)
  const ku = stats(init.kaimingUniform_(w, { nonlinearity: 'relu' }))
  const bound = Math.sqrt(2) * Math.sqrt(3 / 200)
  t.ok(
    ku.min >= -bound && ku.max <= bound && near(ku.std, Math.sqrt(2 / 200), 0.002),
    `kaimingUniform_ ${JSON.stringify(ku)}`,
  )
  const kn = stats(init.kaimingNormal_(w, { mode: 'fanOut', nonlinearity: 'relu' }))
  t.ok(near(kn.std, Math.sqrt(2 / 100), 0.003), `kaimingNormal_ fanOut ${JSON.stringify(kn)}`)
  t.throws(
    () => init.kaimingUniform_(w, { mode: 'fan_in' as never }),
    /kaimingUniform_: mode must be 'fanIn' or 'fanOut'/,
  )
  t.throws(() => init.normal_(zeros([2], { dtype: 'int32' })), /normal_: expected a floating-point tensor, got int32/)
  t.same(Array.from(init.constant_(empty([3]), 2.5).data()), [2.5, 2.5, 2.5])
  t.same(Array.from(init.ones_(empty([2])).data()), [1, 1])
  t.same(Array.from(init.zeros_(empty([2], { dtype: 'float64' })).data()), [0, 0])
})

t.test('truncNormal_ matches the truncated normal moments, even far in a tail', async (t) => {
  manualSeed(1)
  // Mean and std of N(0, 1) truncated to [a, b], computed in closed form with Python's math.erf.
  const cases: [number, number, number, number][] = [
    [-2, 2, 0, 0.8796256610342398],
    [-1, 0.5, -0.20663121806153306, 0.4156600282520478],
    [2, 3, 2.3158213267437833, 0.24803382748021618],
  ]
  for (const [a, b, mean, std] of cases) {
    const s = stats(init.truncNormal_(empty([N]), 0, 1, a, b))
    t.ok(s.min >= a && s.max <= b, `[${a}, ${b}] bounds: ${s.min} .. ${s.max}`)
    t.ok(near(s.mean, mean, 0.01) && near(s.std, std, 0.01), `[${a}, ${b}] moments ${JSON.stringify(s)}`)
  }
  // Absolute bounds with a shifted, scaled normal (timm's trunc_normal_(std=.02) keeps ±2 absolute).
  const s = stats(init.truncNormal_(empty([N]), 0, 0.02))
  t.ok(near(s.std, 0.02, 0.0005) && s.max < 0.1, `std 0.02 ${JSON.stringify(s)}`)
  t.throws(() => init.truncNormal_(empty([2]), 0, 1, 1, 1), /truncNormal_: need std > 0 and a < b/)
})

t.test('draws reproduce from a seed, and a generator option gives a private stream', async (t) => {
  manualSeed(5)
  const a = Array.from(init.kaimingNormal_(empty([4, 4])).data())
  manualSeed(5)
  const b = Array.from(init.kaimingNormal_(empty([4, 4])).data())
  t.same(a, b)
  const g1 = Array.from(init.uniform_(empty([4]), 0, 1, { generator: new Generator(9) }).data())
  const g2 = Array.from(init.uniform_(empty([4]), 0, 1, { generator: new Generator(9) }).data())
  t.same(g1, g2)
  // Non-contiguous targets are filled through a copy.
  const base = zeros([3, 2])
  init.constant_(base.t(), 4)
  init.uniform_(base.t(), 1, 2)
  t.ok(Array.from(base.data()).every((v) => v >= 1 && v < 2))
})

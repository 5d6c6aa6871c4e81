import t from 'tap'
import { dtypeCode } from '../../src/backend/element-types'
import {
  binaryCrossEntropyWithLogits,
  cosineSimilarity,
  crossEntropy,
  Generator,
  gradcheck,
  l1Loss,
  mseLoss,
  normalize,
  randint,
  randn,
  smoothL1Loss,
  softmax,
  tensor,
  zeros,
  type Reduction,
  type Tensor,
} from '../../src'
import { native } from '../../src/backend/native'
import { checkParity } from './fixture'
import { assertClose } from '../helpers'

const gen = new Generator(8)
const rg = (shape: number[]) => randn(shape, { dtype: 'float64', generator: gen }).requiresGrad_()
const r = (shape: number[], dtype: 'float32' | 'float64' = 'float64') => randn(shape, { dtype, generator: gen })
const idx = (v: number[], shape?: number[]) => tensor(v, { dtype: 'int32', shape })
type Opts = { reduction?: Reduction; beta?: number; ignoreIndex?: number; labelSmoothing?: number }

t.test(
  'crossEntropy matches PyTorch (weights, ignoreIndex, label smoothing, reductions, segmentation, probabilities, unbatched)',
  async (t) => {
    checkParity(t, 'loss', 'crossEntropy', (c, i) =>
      crossEntropy(i.x, i.t, { weight: i.w ?? null, ...(c.options as Opts) }),
    )
  },
)

t.test('elementwise losses, cosineSimilarity and normalize match PyTorch', async (t) => {
  checkParity(t, 'loss', 'binaryCrossEntropyWithLogits', (c, i) =>
    binaryCrossEntropyWithLogits(i.x, i.y, {
      weight: i.w ?? null,
      posWeight: i.pw ?? null,
      reduction: c.options.reduction as Reduction,
    }),
  )
  checkParity(t, 'loss', 'mseLoss', (c, i) => mseLoss(i.x, i.y, c.options as Opts))
  checkParity(t, 'loss', 'l1Loss', (c, i) => l1Loss(i.x, i.y, c.options as Opts))
  checkParity(t, 'loss', 'smoothL1Loss', (c, i) => smoothL1Loss(i.x, i.y, c.options as Opts))
  checkParity(t, 'loss', 'cosineSimilarity', (c, i) =>
    cosineSimilarity(i.a, i.b, c.options as { dim: number; eps: number }),
  )
  checkParity(t, 'loss', 'normalize', (c, i) => normalize(i.x, c.options as { p: number; dim: number }))
})

t.test('float64 gradcheck', async (t) => {
  const target = idx([2, 0, -100, 1])
  const w = r([3]).abs().add(0.2)
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    t.ok(
      gradcheck((x) => crossEntropy(x, target, { weight: w, labelSmoothing: 0.15, reduction }), [rg([4, 3])]),
      `crossEntropy ${reduction}`,
    )
  }
  t.ok(
    gradcheck((x) => crossEntropy(x, idx([0, 2, 1, 1, 0, 2], [2, 3]), { labelSmoothing: 0.1 }), [rg([2, 3, 3])]),
    'crossEntropy segmentation',
  )
  t.ok(
    gradcheck(
      (x, p) => crossEntropy(x, softmax(p, 1), { weight: w, labelSmoothing: 0.2 }),
      [rg([2, 3, 2]), rg([2, 3, 2])],
    ),
    'crossEntropy probabilities (logits and target)',
  )
  const y = randn([3, 4], { dtype: 'float64', generator: gen }).sigmoid()
  t.ok(
    gradcheck(
      (x, yy, ww, pw) => binaryCrossEntropyWithLogits(x, yy, { weight: ww, posWeight: pw, reduction: 'sum' }),
      [rg([3, 4]), y.detach().requiresGrad_(), rg([4]), rg([4])],
    ),
    'binaryCrossEntropyWithLogits',
  )
  t.ok(
    gradcheck((x, yy) => mseLoss(x, yy), [rg([3, 2]), rg([3, 2])]),
    'mseLoss',
  )
  t.ok(
    gradcheck((x, yy) => l1Loss(x, yy, { reduction: 'sum' }), [rg([3, 2]), rg([3, 2])]),
    'l1Loss',
  )
  t.ok(
    gradcheck((x, yy) => smoothL1Loss(x, yy, { beta: 0.8, reduction: 'none' }), [rg([3, 2]), rg([3, 2])]),
    'smoothL1Loss',
  )
  t.ok(
    gradcheck((x, yy) => mseLoss(x, yy, { reduction: 'none' }), [rg([3, 2]), rg([2])]),
    'mseLoss with a broadcast target',
  )
  t.ok(
    gradcheck((x, yy) => smoothL1Loss(x.t(), yy, { beta: 1.5 }), [rg([2, 3]), rg([3, 2])]),
    'smoothL1Loss of a transposed input',
  )
  t.ok(
    gradcheck(
      (x, pw) => binaryCrossEntropyWithLogits(x, y, { posWeight: pw, reduction: 'none' }),
      [rg([3, 4]), rg([4])],
    ),
    'binaryCrossEntropyWithLogits, posWeight only',
  )
  t.ok(
    gradcheck((a, b) => cosineSimilarity(a, b, { dim: 0 }), [rg([4, 3]), rg([4, 3])]),
    'cosineSimilarity',
  )
  for (const p of [1, 2, 3])
    t.ok(
      gradcheck((x) => normalize(x, { p, dim: 1 }), [rg([2, 4])]),
      `normalize p=${p}`,
    )
})

t.test('exact values at the kinks: BCE at logit 0, normalize of a zero vector', async (t) => {
  const x = zeros([2], { dtype: 'float64' }).requiresGrad_()
  const loss = binaryCrossEntropyWithLogits(x, tensor([0, 1], { dtype: 'float64' }), { reduction: 'sum' })
  assertClose(t, [loss.item()], [2 * Math.log(2)], 1e-15, 0, 'loss')
  loss.backward()
  assertClose(t, (x.grad as Tensor).data(), [0.5, -0.5], 1e-15, 0, 'gradient sigmoid(x) - y')
  const z = zeros([1, 3], { dtype: 'float64' }).requiresGrad_()
  normalize(z).sum().backward()
  // x / max(|x|, eps): 1 / eps through the division, nothing through the clamped norm (PyTorch's values)
  t.same(Array.from((z.grad as Tensor).data()), [1e12, 1e12, 1e12], 'finite gradient at the zero vector')
})

t.test('crossEntropy at classification scale agrees with logSoftmax composition', async (t) => {
  const x = r([256, 1000], 'float32').mul(3)
  const target = randint(0, 1000, [256], { generator: gen })
  const loss = crossEntropy(x, target).item()
  const logp = x.to('float64').logSoftmax(1).data()
  const tg = target.data()
  let ref = 0
  for (let i = 0; i < 256; i++) ref -= logp[i * 1000 + tg[i]]
  assertClose(t, [loss], [ref / 256], 1e-5, 0, 'mean loss')
  const xg = x.detach().requiresGrad_()
  crossEntropy(xg, target, { labelSmoothing: 0.1 }).backward()
  const g = (xg.grad as Tensor).sum(1).data()
  t.ok(
    g.every((v) => Math.abs(v) < 1e-6),
    'each row of the gradient sums to 0',
  )
  t.ok(
    Number.isNaN(crossEntropy(r([2, 3]), idx([-100, -100])).item()),
    'all targets ignored: mean is NaN, as in PyTorch',
  )
})

t.test(
  'fused elementwise losses at training size (several kernel chunks, a partial vector) agree with plain JS',
  async (t) => {
    const shape = [3, 5471]
    const x = r(shape, 'float32').mul(3)
    const y = randn(shape, { generator: gen }).sigmoid()
    const w = randn([5471], { generator: gen }).abs()
    const pw = randn([5471], { generator: gen }).abs().add(0.5)
    const [xs, ys, ws, pws] = [x.data(), y.data(), w.data(), pw.data()]
    const n = xs.length
    const softplusNeg = (v: number) => Math.max(-v, 0) + Math.log1p(Math.exp(-Math.abs(v)))
    const sigmoid = (v: number) => 1 / (1 + Math.exp(-v))
    // [name, call, loss(i), d loss / dx (i)]
    const cases: [string, (x: Tensor, o: Opts) => Tensor, (i: number) => number, (i: number) => number][] = [
      ['mseLoss', (a, o) => mseLoss(a, y, o), (i) => (xs[i] - ys[i]) ** 2, (i) => 2 * (xs[i] - ys[i])],
      ['l1Loss', (a, o) => l1Loss(a, y, o), (i) => Math.abs(xs[i] - ys[i]), (i) => Math.sign(xs[i] - ys[i])],
      [
        'smoothL1Loss',
        (a, o) => smoothL1Loss(a, y, { ...o, beta: 0.7 }),
        (i) => {
          const d = Math.abs(xs[i] - ys[i])
          return d < 0.7 ? (0.5 * d * d) / 0.7 : d - 0.35
        },
        (i) => {
          const d = xs[i] - ys[i]
          return Math.abs(d) < 0.7 ? d / 0.7 : Math.sign(d)
        },
      ],
      [
        'binaryCrossEntropyWithLogits',
        (a, o) => binaryCrossEntropyWithLogits(a, y, { ...o, weight: w, posWeight: pw }),
        (i) => {
          const k = i % 5471
          const lw = 1 + (pws[k] - 1) * ys[i]
          return ws[k] * ((1 - ys[i]) * xs[i] + lw * softplusNeg(xs[i]))
        },
        (i) => {
          const k = i % 5471
          const lw = 1 + (pws[k] - 1) * ys[i]
          return ws[k] * (1 - ys[i] - lw * sigmoid(-xs[i]))
        },
      ],
    ]
    for (const [name, call, loss, grad] of cases) {
      const losses = Array.from({ length: n }, (_, i) => loss(i))
      const total = losses.reduce((a, b) => a + b, 0)
      assertClose(t, call(x, { reduction: 'none' }).data(), losses, 1e-5, 1e-6, `${name} none`)
      assertClose(t, [call(x, { reduction: 'sum' }).item()], [total], 1e-5, 0, `${name} sum`)
      const xg = x.detach().requiresGrad_()
      const mean = call(xg, {})
      assertClose(t, [mean.item()], [total / n], 1e-5, 0, `${name} mean`)
      mean.backward()
      assertClose(
        t,
        (xg.grad as Tensor).data(),
        Array.from({ length: n }, (_, i) => grad(i) / n),
        1e-4,
        1e-10,
        `${name} mean gradient`,
      )
    }
  },
)

t.test('bad inputs get clear errors', async (t) => {
  const x = r([4, 3])
  t.throws(
    () => crossEntropy(x, idx([0, 1, 3, 0])),
    /crossEntropy: target 3 is out of range for 3 classes \(ignoreIndex -100\)/,
  )
  t.throws(() => crossEntropy(x, idx([0, 1, -1, 0])), /crossEntropy: target -1 is out of range/)
  t.throws(
    () => crossEntropy(x, idx([0, 1, 2])),
    /crossEntropy: target \[3\] does not fit input \[4, 3\] \(expected class indices of shape \[4\]\)/,
  )
  t.throws(
    () => crossEntropy(x, r([4, 2])),
    /crossEntropy: target \[4, 2\] does not fit input \[4, 3\] \(expected probabilities of shape \[4, 3\]\)/,
  )
  t.throws(
    () => crossEntropy(x, idx([0, 1, 2, 0]), { weight: r([4]) }),
    /crossEntropy: weight must be float64 \[3\], got float64 \[4\]/,
  )
  t.throws(
    () => crossEntropy(x, r([4, 3]), { ignoreIndex: 1 }),
    /crossEntropy: ignoreIndex applies only to class-index targets/,
  )
  t.throws(
    () => crossEntropy(x, idx([0, 1, 2, 0]), { reduction: 'avg' as Reduction }),
    /crossEntropy: reduction must be 'mean', 'sum' or 'none', got 'avg'/,
  )
  t.throws(() => crossEntropy(x.int(), idx([0, 1, 2, 0])), /crossEntropy: input must be floating-point, got int32/)
  t.throws(() => mseLoss(x, r([4, 3], 'float32')), /mseLoss: input is float64 but target is float32/)
  t.throws(
    () => binaryCrossEntropyWithLogits(x, r([4, 3]), { posWeight: r([4]) }),
    /binaryCrossEntropyWithLogits: posWeight \[4\] does not broadcast to the input \[4, 3\]/,
  )
  t.throws(() => smoothL1Loss(x, x, { beta: -1 }), /smoothL1Loss: beta must be a non-negative number, got -1/)
  t.throws(
    () => mseLoss(x, x, { reduction: 'avg' as Reduction }),
    /mseLoss: reduction must be 'mean', 'sum' or 'none', got 'avg'/,
  )
  t.throws(() => l1Loss(x, r([2, 3])), /l1Loss: shapes \[4, 3\] and \[2, 3\] cannot be broadcast/)
  t.throws(() => normalize(x, { p: 0 }), /normalize.*p must be a positive finite number, got 0/)
  t.throws(() => cosineSimilarity(x, r([4, 3]), { dim: 2 }), /cosineSimilarity: dim 2 is out of range/)
  const d = r([4, 3])
  d.dispose()
  t.throws(() => crossEntropy(d, idx([0, 1, 2, 0])), /crossEntropy: the tensor of shape \[4, 3\] was disposed/)
  const n = native as unknown as Record<string, (...a: unknown[]) => unknown>
  const desc = (v: Tensor) => [v.storage.handle, v.offset, v.shape, v.strides, dtypeCode[v.dtype]]
  const x3 = x.reshape([4, 3, 1])
  const l = r([4, 1])
  t.throws(
    () => n.crossEntropyForward(desc(l), desc(l), desc(x3), desc(idx([0, 1, 9, 0], [4, 1])), null, -100, 0),
    /crossEntropyForward: target 9 is out of range for 3 classes/,
  )
  t.throws(
    () => n.crossEntropyForward(desc(l), desc(r([4, 2])), desc(x3), desc(idx([0, 1, 2, 0], [4, 1])), null, -100, 0),
    /crossEntropyForward: argument 'lse' must be a contiguous float64 \[4, 1\] tensor/,
  )
  t.throws(
    () => n.crossEntropyForward(desc(l), desc(l), desc(x3), desc(idx([0, 1, 2, 0], [4, 1])), null, -100, 2),
    /crossEntropyForward: labelSmoothing must be in \[0, 1\], got 2/,
  )
  const y = r([4, 3])
  t.throws(
    () => n.pointwiseLoss('huber', null, desc(x), desc(y), null, null, 1),
    /pointwiseLoss: unknown loss 'huber' \(mse, l1, smoothL1, bceWithLogits\)/,
  )
  t.throws(
    () => n.pointwiseLoss('mse', null, desc(x), desc(r([3, 4])), null, null, 0),
    /pointwiseLoss: argument 'target' must be a contiguous float64 tensor of shape \[4, 3\], got float64 \[3, 4\]/,
  )
  t.throws(
    () => n.pointwiseLoss('mse', null, desc(x), desc(x.t()), null, null, 0),
    /pointwiseLoss: argument 'target' must be .*\(not contiguous\)/,
  )
  t.throws(
    () => n.pointwiseLoss('l1', null, desc(x), desc(y), desc(y), null, 0),
    /pointwiseLoss: weight and posWeight apply only to bceWithLogits, not 'l1'/,
  )
  t.throws(
    () => n.pointwiseLoss('smoothL1', null, desc(x), desc(y), null, null, 0),
    /pointwiseLoss: smoothL1 needs a positive finite beta \(beta 0 is l1\), got 0/,
  )
  t.throws(
    () => n.pointwiseLossBackward('mse', desc(x), null, desc(x), desc(y), null, null, desc(r([4])), 1, 0),
    /pointwiseLossBackward: argument 'gradLoss' must be a contiguous float64 tensor of shape \[4, 3\], got float64 \[4\]/,
  )
  t.throws(
    () =>
      n.crossEntropyBackward(
        desc(x3),
        desc(x3),
        desc(idx([0, 1, 2, 0], [4, 1])),
        null,
        desc(l),
        desc(r([4, 2])),
        1,
        -100,
        0,
      ),
    /crossEntropyBackward: gradLoss must be a float64 \[4, 1\] view/,
  )
})

import t from 'tap'
import { dropout, Generator, gradcheck, logSoftmax, ones, randn, softmax, tensor, type Tensor } from '../../src'
import { native } from '../../src/backend/native'
import { checkParity } from './fixture'
import { assertClose } from '../helpers'

const gen = new Generator(5)
const rg = (shape: number[]) => randn(shape, { dtype: 'float64', generator: gen }).requiresGrad_()
const r = (shape: number[], dtype: 'float32' | 'float64' = 'float64') => randn(shape, { dtype, generator: gen })

t.test(
  'softmax and logSoftmax match PyTorch (rows, middle and leading dims, strided input, large values)',
  async (t) => {
    checkParity(t, 'softmax', 'softmax', (c, i) => softmax(i.x, c.options.dim as number))
    checkParity(t, 'softmax', 'logSoftmax', (c, i) => i.x.logSoftmax(c.options.dim as number))
  },
)

t.test('float64 gradcheck', async (t) => {
  for (const dim of [0, 1, 2]) {
    t.ok(
      gradcheck((x) => softmax(x, dim), [rg([3, 4, 5])]),
      `softmax dim ${dim}`,
    )
    t.ok(
      gradcheck((x) => logSoftmax(x, dim), [rg([3, 4, 5])]),
      `logSoftmax dim ${dim}`,
    )
  }
  t.ok(
    gradcheck((x) => softmax(x.transpose(0, 1), 1), [rg([4, 3])]),
    'softmax of a strided view',
  )
  // dropout is deterministic for a fixed generator seed, so finite differences see one mask
  t.ok(
    gradcheck((x) => dropout(x, 0.3, true, { generator: new Generator(9) }), [rg([6, 7])]),
    'dropout',
  )
})

t.test('softmax over long rows and many columns (vector and blocked paths)', async (t) => {
  for (const [shape, dim] of [
    [[3, 1000], 1],
    [[2, 300, 700], 1],
  ] as const) {
    const x = r([...shape], 'float32').mul(5)
    const y = softmax(x, dim).data()
    const ref = x.to('float64').sub(x.to('float64').logsumexp(dim, true)).exp().data()
    assertClose(t, y, ref, 1e-5, 1e-7, `softmax ${shape} dim ${dim}`)
    assertClose(t, logSoftmax(x, dim).data(), Array.from(ref, Math.log), 1e-5, 1e-5, `logSoftmax ${shape} dim ${dim}`)
  }
  const inf = tensor([
    [-Infinity, -Infinity],
    [0, -Infinity],
  ])
  const y = softmax(inf, 1).data()
  t.ok(Number.isNaN(y[0]) && Number.isNaN(y[1]), 'an all -inf row is NaN, as in PyTorch')
  t.same(Array.from(y.slice(2)), [1, 0], 'a -inf entry gets probability 0')
})

t.test('float32 gradients of the vector rows and column blocks match float64 (gradchecked above)', async (t) => {
  // [4, 70, 1]: rows longer than two vectors; [3, 5, 70]: one full column block of 64 and a
  // partial one; [2, 40, 3]: only a partial block.
  for (const [shape, dim] of [
    [[4, 70], 1],
    [[3, 5, 70], 1],
    [[2, 40, 3], 1],
    [[6, 4, 9, 11], 1],
  ] as const) {
    const x = r([...shape], 'float32').mul(3)
    const g = r([...shape], 'float32')
    for (const op of [softmax, logSoftmax]) {
      const grads = (['float32', 'float64'] as const).map((dtype) => {
        const xd = x.to(dtype).detach().requiresGrad_()
        op(xd, dim).mul(g.to(dtype)).sum().backward()
        return (xd.grad as Tensor).data()
      })
      assertClose(t, grads[0], grads[1], 1e-4, 2e-6, `${op.name} ${shape} dim ${dim}`)
    }
  }
  // The gradient of a sum arrives broadcast; softmax's rows sum to 1, so its gradient is 0.
  const x = r([8, 100], 'float32').requiresGrad_()
  softmax(x, 1).sum().backward()
  t.ok(
    (x.grad as Tensor).data().every((v) => Math.abs(v) < 1e-6),
    'd/dx sum(softmax(x)) = 0',
  )
})

t.test('dropout: identity in eval, scaled Bernoulli mask in training, reproducible from a seed', async (t) => {
  const x = ones([200, 500])
  t.equal(dropout(x, 0.5, false), x, 'eval returns the input')
  t.equal(dropout(x, 0), x, 'p = 0 returns the input')
  t.same(Array.from(new Set(dropout(x, 1).data())), [0], 'p = 1 zeroes everything')
  const p = 0.3
  const y = dropout(x, p, true, { generator: new Generator(1) }).data()
  const kept = y.filter((v) => v !== 0)
  t.ok(Math.abs(kept.length / y.length - (1 - p)) < 0.005, `kept fraction ${kept.length / y.length}`)
  t.ok(
    kept.every((v) => Math.abs(v - 1 / (1 - p)) < 1e-6),
    'kept values scaled by 1 / (1 - p)',
  )
  const again = dropout(x, p, true, { generator: new Generator(1) }).data()
  t.same(Array.from(again), Array.from(y), 'same seed, same mask')
  const other = dropout(x, p, true, { generator: new Generator(2) }).data()
  t.not(Array.from(other).join(), Array.from(y).join(), 'another seed, another mask')
  // the gradient is the mask itself
  const xg = ones([50, 40], { dtype: 'float64' }).requiresGrad_()
  const out = dropout(xg, 0.4, true, { generator: new Generator(3) })
  out.sum().backward()
  assertClose(t, (xg.grad as Tensor).data(), out.data(), 0, 0, 'grad equals the scaled mask')
})

t.test('bad inputs get clear errors', async (t) => {
  t.throws(() => softmax(r([2, 3]), 2), /softmax: dim 2 is out of range for a tensor of 2 dims/)
  t.throws(
    () => logSoftmax(tensor([1, 2], { dtype: 'int32' }), 0),
    /logSoftmax: input must be floating-point, got int32/,
  )
  t.throws(() => dropout(r([2]), 1.5), /dropout: p must be in \[0, 1\], got 1.5/)
  const d = r([2, 2])
  d.dispose()
  t.throws(() => softmax(d, 0), /softmax: the tensor of shape \[2, 2\] was disposed/)
  const n = native as unknown as Record<string, (...a: unknown[]) => unknown>
  const x = r([2, 3, 4])
  const desc = (v: Tensor) => [v.storage.handle, v.offset, v.shape, v.strides, v.dtype === 'float32' ? 0 : 1]
  t.throws(
    () => n.softmaxForward(desc(r([2, 3, 5])), desc(x), false),
    /softmaxForward: argument 'out' must be a contiguous float64 tensor of x's shape \[2, 3, 4\]/,
  )
  t.throws(
    () => n.softmaxForward(desc(x), desc(x.transpose(1, 2)), false),
    /softmaxForward: argument 'x' must be a contiguous float \[outer, K, inner\] tensor/,
  )
  t.throws(() => n.softmaxForward(desc(x), desc(x), 1), /softmaxForward: argument 'log' must be a boolean/)
  t.throws(() => n.dropout(desc(x), desc(x), 0.5, -1, 0), /dropout: seedLo and seedHi must be unsigned 32-bit integers/)
  t.throws(() => n.dropout(desc(x), desc(x), 1, 0, 0), /dropout: p must be in \[0, 1\), got 1/)
})

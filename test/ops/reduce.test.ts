import t from 'tap'
import * as iv from '../../src'
import { assertClose, leaf } from '../helpers'

iv.manualSeed(3)

t.test('reductions over any dims, with keepDim', async (t) => {
  const x = iv.arange(24, undefined, 1, { dtype: 'float32' }).reshape(2, 3, 4)
  t.equal(x.sum().item(), 276)
  t.same(x.sum(1).toArray(), [
    [12, 15, 18, 21],
    [48, 51, 54, 57],
  ])
  t.same(x.sum([0, 2], true).shape, [1, 3, 1])
  t.same(x.sum([0, 2]).toArray(), [60, 92, 124])
  t.same(x.mean(-1).toArray(), [
    [1.5, 5.5, 9.5],
    [13.5, 17.5, 21.5],
  ])
  t.same(x.max(2).toArray(), [
    [3, 7, 11],
    [15, 19, 23],
  ])
  t.same(x.min(0).toArray(), [
    [0, 1, 2, 3],
    [4, 5, 6, 7],
    [8, 9, 10, 11],
  ])
  t.same(x.argmax(1).toArray(), [
    [2, 2, 2, 2],
    [2, 2, 2, 2],
  ])
  t.equal(x.argmax().item(), 23)
  t.equal(x.argmin(undefined, true).shape.length, 3)
  const v = iv.tensor([1, 2, 3, 4])
  t.equal(v.var().item(), Math.fround(5 / 3))
  t.equal(v.var(undefined, { correction: 0 }).item(), 1.25)
  assertClose(t, v.std().data(), [Math.sqrt(5 / 3)])
  assertClose(
    t,
    iv
      .tensor([
        [1000, 1000],
        [0, Math.log(3)],
      ])
      .logsumexp(1)
      .data(),
    [1000 + Math.log(2), Math.log(4)],
    1e-6,
  )
  t.equal(
    iv
      .tensor([
        [2, 3],
        [4, 5],
      ])
      .prod()
      .item(),
    120,
  )
  t.equal(iv.tensor([1, 2], { dtype: 'int32' }).sum().dtype, 'int32')
  t.ok(Number.isNaN(iv.tensor([1, NaN, 3]).max().item()), 'NaN propagates through max')
  // float32 sums of many terms stay accurate (accumulated in double)
  t.equal(
    iv
      .full([1 << 20], 0.1)
      .sum()
      .item(),
    Math.fround(0.1 * 2 ** 20),
  )
  t.throws(() => x.sum(3), /dim 3 is out of range/)
  t.throws(() => x.sum([1, 1]), /repeats a dimension/)
  t.throws(() => iv.zeros([0]).max(), /empty/)
})

t.test('reductions of strided views', async (t) => {
  const base = iv.randn([5, 6, 7])
  const view = base.permute(2, 0, 1).slice(1, 1, 5, 2)
  const copy = view.contiguous()
  for (const dims of [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2]])
    assertClose(t, view.sum(dims).data(), copy.sum(dims).data(), 1e-6, 1e-6, `sum over ${dims}`)
})

// Reduced dims of stride 0 (expanded tensors: broadcast gradients) are not visited: sum
// scales by their size, mean, max and min skip them. Each must equal the reduction of the
// materialised copy, for every mix of expanded and real dims, with keepDim, and in float64.
t.test('reductions over expanded dims equal those over the materialised tensor', async (t) => {
  for (const dtype of ['float32', 'float64'] as const) {
    const base = iv.randn([3, 1, 5, 1], { dtype })
    const view = base.expand([3, 4, 5, 6])
    const copy = view.contiguous()
    for (const dims of [[1], [3], [1, 3], [0, 1], [0, 1, 2, 3], [2], [1, 2, 3]])
      for (const keepDim of [false, true]) {
        for (const op of ['sum', 'mean', 'max', 'min'] as const) {
          const got = view[op](dims, keepDim)
          const want = copy[op](dims, keepDim)
          t.same(got.shape, want.shape, `${dtype} ${op} over ${dims} keepDim ${keepDim}: shape`)
          assertClose(t, got.data(), want.data(), 1e-6, 1e-6, `${dtype} ${op} over ${dims} keepDim ${keepDim}`)
        }
      }
  }
  // An expanded dim of size 0 still sums to 0; integer sums keep their kernel.
  t.same(iv.zeros([2, 1]).expand([2, 0]).sum(1).toArray(), [0, 0])
  t.same(
    iv
      .tensor([[2], [3]], { dtype: 'int32' })
      .expand([2, 4])
      .sum(1)
      .toArray(),
    [8, 12],
  )
  // The gradient of a sum over an expanded dim reaches the base once per repeat.
  const x = iv.randn([3, 1]).requiresGrad_()
  x.expand([3, 5]).sum(1).sum().backward()
  t.same(x.grad!.toArray(), [[5], [5], [5]])
})

t.test('reductions pass gradcheck', async (t) => {
  const cases: [string, (x: iv.Tensor) => iv.Tensor][] = [
    ['sum', (x) => x.sum(1)],
    ['sum keepDim multi', (x) => x.sum([0, 2], true)],
    ['mean', (x) => x.mean([1, 2])],
    ['var', (x) => x.var(1)],
    ['var correction 0', (x) => x.var([0, 2], { correction: 0 })],
    ['std', (x) => x.std(2)],
    ['max', (x) => x.max(1)],
    ['min all', (x) => x.min()],
    ['logsumexp', (x) => x.logsumexp(2)],
    ['prod', (x) => x.prod(1)],
  ]
  for (const [name, fn] of cases) t.ok(iv.gradcheck(fn, [leaf([3, 4, 5])]), name)
})

t.test(
  'sum, mean and var over leading and middle dims (contiguous runs of outputs, column blocks) match plain JS',
  async (t) => {
    // x[a][b][c] = data[(a * B + b) * C + c]; C > 512 splits the columns into blocks
    const [A, B, C] = [3, 5, 601]
    for (const dtype of ['float32', 'float64'] as const) {
      const x = iv.randn([A, B, C], { dtype })
      const d = x.data()
      const at = (a: number, b: number, c: number) => d[(a * B + b) * C + c]
      const tol = dtype === 'float32' ? 1e-5 : 1e-12
      const overB = Array.from({ length: A * C }, (_, i) => {
        let s = 0
        for (let b = 0; b < B; b++) s += at(Math.floor(i / C), b, i % C)
        return s
      })
      assertClose(t, x.sum(1).data(), overB, tol, tol, `${dtype} sum over the middle dim`)
      assertClose(
        t,
        x.mean(1).data(),
        overB.map((s) => s / B),
        tol,
        tol,
        `${dtype} mean over the middle dim`,
      )
      const col = (c: number) => Array.from({ length: A * B }, (_, k) => at(Math.floor(k / B), k % B, c))
      const colSums = Array.from({ length: C }, (_, c) => col(c).reduce((p, v) => p + v, 0))
      assertClose(t, x.sum([0, 1]).data(), colSums, tol, tol, `${dtype} sum over the leading dims`)
      const varOf = (v: number[], correction: number) => {
        const m = v.reduce((p, q) => p + q, 0) / v.length
        return v.reduce((p, q) => p + (q - m) ** 2, 0) / (v.length - correction)
      }
      assertClose(
        t,
        x.var([0, 1]).data(),
        Array.from({ length: C }, (_, c) => varOf(col(c), 1)),
        tol,
        tol,
        `${dtype} var over the leading dims`,
      )
      const varN = Array.from({ length: B * C }, (_, i) =>
        varOf(
          [0, 1, 2].map((a) => at(a, Math.floor(i / C), i % C)),
          0,
        ),
      )
      assertClose(t, x.var(0, { correction: 0 }).data(), varN, tol, tol, `${dtype} var over dim 0, correction 0`)
      // a permuted view: the reduced dims are strided, the kept one contiguous
      const view = x.permute(1, 0, 2)
      assertClose(t, view.sum(1).data(), x.sum(0).data(), tol, tol, `${dtype} sum of a permuted view`)
    }
    t.ok(Number.isNaN(iv.ones([1, 3]).var(0).data()[0]), 'var of one row with correction 1 is NaN')
  },
)

t.test('whole-tensor sums split across threads in fixed chunks match plain JS, contiguous and strided', async (t) => {
  const x = iv.randn([70001, 2], { dtype: 'float64' })
  const d = x.data()
  let all = 0
  let col = 0
  for (let i = 0; i < d.length; i++) all += d[i]
  for (let i = 0; i < d.length; i += 2) col += d[i]
  assertClose(t, [x.sum().item()], [all], 1e-12, 1e-9, 'sum of everything')
  assertClose(t, [x.mean().item()], [all / d.length], 1e-12, 1e-13, 'mean of everything')
  assertClose(t, [x.select(1, 0).sum().item()], [col], 1e-12, 1e-9, 'sum of a stride-2 column')
  const single = [1, 2, 3].map(() => x.to('float32').sum().item())
  t.same(single, [single[0], single[0], single[0]], 'the same value every time (partials added in a fixed order)')
})

import t from 'tap'
import * as iv from '../../src'
import { assertClose, leaf } from '../helpers'

iv.manualSeed(4)

function reference(a: iv.Tensor, b: iv.Tensor): Float64Array {
  const [m, k] = a.shape
  const n = b.shape[1]
  const A = a.data()
  const B = b.data()
  const C = new Float64Array(m * n)
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) C[i * n + j] += A[i * k + p] * B[p * n + j]
  return C
}

t.test('matmul matches a reference at awkward sizes and layouts', async (t) => {
  for (const [m, k, n] of [
    [1, 1, 1],
    [7, 13, 5],
    [33, 65, 17],
    [64, 64, 64],
    [130, 70, 129],
  ]) {
    const a = iv.randn([m, k])
    const b = iv.randn([k, n])
    assertClose(t, a.matmul(b).data(), reference(a, b), 1e-4, 1e-4, `${m}x${k}x${n}`)
    // transposed operands are read in place
    const at = a.t().contiguous().t()
    const bt = b.t().contiguous().t()
    assertClose(t, at.matmul(bt).data(), reference(a, b), 1e-4, 1e-4, `${m}x${k}x${n} transposed`)
  }
})

t.test('matrix-vector products (M or N of 1) match a reference in every layout, with and without bias', async (t) => {
  // Sizes on both sides of the thread split, odd lengths past the vector loops' tails.
  for (const [m, k, n] of [
    [1, 37, 23],
    [29, 37, 1],
    [1, 1100, 600],
    [600, 1100, 1],
    [1, 3, 2500],
  ]) {
    for (const dtype of ['float32', 'float64'] as const) {
      const a = iv.randn([m, k], { dtype })
      const b = iv.randn([k, n], { dtype })
      const ref = reference(a, b)
      const tol = dtype === 'float32' ? 1e-4 : 1e-12
      const label = `${m}x${k}x${n} ${dtype}`
      assertClose(t, a.matmul(b).data(), ref, tol, tol, label)
      const at = a.t().contiguous().t()
      const bt = b.t().contiguous().t()
      assertClose(t, at.matmul(b).data(), ref, tol, tol, `${label}, A transposed`)
      assertClose(t, a.matmul(bt).data(), ref, tol, tol, `${label}, B transposed`)
      assertClose(t, at.matmul(bt).data(), ref, tol, tol, `${label}, both transposed`)
      // linear adds its bias through the GEMM's beta = 1
      const bias = iv.randn([n], { dtype })
      const withBias = ref.map((v, i) => v + (bias.data()[i % n] as number))
      assertClose(t, iv.linear(a, b.t(), bias).data(), withBias, tol, tol, `${label}, linear with bias`)
    }
  }
})

t.test('matmul batches, broadcasts and handles vectors', async (t) => {
  const a = iv.randn([2, 1, 3, 4])
  const b = iv.randn([5, 4, 6])
  const c = a.matmul(b)
  t.same(c.shape, [2, 5, 3, 6])
  const c11 = a.select(0, 1).select(0, 0).matmul(b.select(0, 3))
  assertClose(t, c.select(0, 1).select(0, 3).contiguous().data(), c11.data(), 1e-5, 1e-5, 'broadcast batch')
  t.same(iv.randn([4]).matmul(iv.randn([4, 3])).shape, [3])
  t.same(iv.randn([2, 3, 4]).matmul(iv.randn([4])).shape, [2, 3])
  t.equal(
    iv
      .tensor([1, 2, 3])
      .matmul(iv.tensor([4, 5, 6]))
      .item(),
    32,
  )
  t.throws(() => iv.randn([2, 3]).matmul(iv.randn([4, 2])), /matmul: shapes \[2, 3\] and \[4, 2\] cannot be multiplied/)
  t.throws(() => iv.randn([2, 3]).matmul(iv.randn([3, 2], { dtype: 'float64' })), /one dtype/)
})

t.test('linear', async (t) => {
  const x = iv.randn([2, 3, 4])
  const w = iv.randn([5, 4])
  const b = iv.randn([5])
  const y = iv.linear(x, w, b)
  t.same(y.shape, [2, 3, 5])
  assertClose(t, y.data(), x.matmul(w.t()).add(b).data(), 1e-5, 1e-5)
  t.throws(() => iv.linear(x, iv.randn([5, 3])), /linear: input \[2, 3, 4\] does not fit weight \[5, 3\]/)
  t.throws(() => iv.linear(x, w, iv.randn([4])), /bias \[4\] does not fit/)
})

t.test('matmul and linear pass gradcheck', async (t) => {
  t.ok(
    iv.gradcheck((a, b) => a.matmul(b), [leaf([3, 4]), leaf([4, 2])]),
    '2-d',
  )
  t.ok(
    iv.gradcheck((a, b) => a.matmul(b), [leaf([2, 1, 3, 4]), leaf([3, 4, 2])]),
    'batched broadcast',
  )
  t.ok(
    iv.gradcheck((a, b) => a.matmul(b), [leaf([4]), leaf([2, 4, 3])]),
    'vector',
  )
  // M or N of 1: the forward and both gradients run the matrix-vector path
  t.ok(
    iv.gradcheck((a, b) => a.matmul(b), [leaf([1, 7]), leaf([7, 5])]),
    'row vector times matrix',
  )
  t.ok(
    iv.gradcheck((a, b) => a.matmul(b), [leaf([6, 7]), leaf([7, 1])]),
    'matrix times column vector',
  )
  t.ok(
    iv.gradcheck((x, w, b) => iv.linear(x, w, b), [leaf([1, 9]), leaf([4, 9]), leaf([4])]),
    'linear, batch 1',
  )
  t.ok(
    iv.gradcheck((x, w, b) => iv.linear(x, w, b), [leaf([2, 3, 4]), leaf([5, 4]), leaf([5])]),
    'linear',
  )
  t.ok(
    iv.gradcheck((x, w) => iv.linear(x.transpose(0, 1), w), [leaf([3, 2, 4]), leaf([5, 4])]),
    'linear, strided input',
  )
})

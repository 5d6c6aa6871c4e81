import t from 'tap'
import { dtypeCode } from '../../src/backend/element-types'
import {
  Generator,
  gradcheck,
  memoryStats,
  randn,
  scaledDotProductAttention as sdpa,
  tensor,
  where,
  type Tensor,
} from '../../src'
import { native } from '../../src/backend/native'
import { checkParity } from './fixture'
import { assertClose } from '../helpers'

const gen = new Generator(6)
const rg = (shape: number[]) => randn(shape, { dtype: 'float64', generator: gen }).requiresGrad_()
const r = (shape: number[], dtype: 'float32' | 'float64' = 'float64') => randn(shape, { dtype, generator: gen })

t.test(
  'scaledDotProductAttention matches PyTorch (bool and float masks, causal, scale, strided q, tiles crossing 64)',
  async (t) => {
    checkParity(t, 'attention', 'scaledDotProductAttention', (c, i) =>
      sdpa(i.q, i.k, i.v, { attnMask: i.mask ?? null, ...(c.options as { isCausal?: boolean; scale?: number }) }),
    )
  },
)

/** softmax(q k^T * scale + mask) v with ordinary ops: O(L * S) memory, for reference. */
function naive(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor | null,
  scale = 1 / Math.sqrt(q.shape[q.ndim - 1]),
): Tensor {
  let s = q.matmul(k.transpose(-1, -2)).mul(scale)
  if (mask) s = mask.dtype === 'bool' ? where(mask, s, -Infinity) : s.add(mask)
  return s.softmax(-1).matmul(v)
}

t.test('float64 gradcheck: q, k, v and an additive mask; causal; dropout; broadcast batch dims', async (t) => {
  t.ok(
    gradcheck((q, k, v) => sdpa(q, k, v), [rg([2, 3, 4]), rg([2, 5, 4]), rg([2, 5, 3])]),
    'plain',
  )
  t.ok(
    gradcheck(
      (q, k, v, m) => sdpa(q, k, v, { attnMask: m }),
      [rg([1, 2, 3, 4]), rg([1, 2, 5, 4]), rg([1, 2, 5, 2]), rg([2, 1, 5])],
    ),
    'additive mask with grad, broadcast over batch',
  )
  t.ok(
    gradcheck((q, k, v) => sdpa(q, k, v, { isCausal: true, scale: 0.3 }), [rg([5, 3]), rg([5, 3]), rg([5, 2])]),
    'causal, 2-d inputs',
  )
  const keep = tensor([
    [true, false, true, true],
    [false, false, true, false],
    [true, true, true, true],
  ])
  t.ok(
    gradcheck((q, k, v) => sdpa(q, k, v, { attnMask: keep }), [rg([2, 3, 2]), rg([2, 4, 2]), rg([2, 4, 3])]),
    'bool mask',
  )
  t.ok(
    gradcheck(
      (q, k, v) => sdpa(q, k, v, { dropoutP: 0.4, generator: new Generator(5) }),
      [rg([2, 4, 3]), rg([2, 6, 3]), rg([2, 6, 2])],
    ),
    'dropout (same seed every call)',
  )
  t.ok(
    gradcheck((q, k, v) => sdpa(q, k, v), [rg([2, 3, 4, 2]), rg([2, 1, 5, 2]), rg([1, 1, 5, 3])]),
    'key/value heads broadcast',
  )
})

t.test('larger shapes on every tile path agree with the composition (float32, both thread splits)', async (t) => {
  for (const [B, L, S, E, Ev, causal] of [
    [1, 200, 130, 64, 64, false],
    [6, 70, 150, 32, 20, true],
    [3, 129, 129, 17, 33, false],
  ] as const) {
    const q = r([B, L, E], 'float32').requiresGrad_()
    const k = r([B, S, E], 'float32').requiresGrad_()
    const v = r([B, S, Ev], 'float32').requiresGrad_()
    const mask = causal
      ? tensor(Array.from({ length: L }, (_, i) => Array.from({ length: S }, (_, j) => j <= i)))
      : r([B, L, S], 'float32')
    const out = sdpa(q, k, v, causal ? { isCausal: true } : { attnMask: mask })
    const g = r(out.shape, 'float32')
    out.backward(g)
    const got = [out, q.grad, k.grad, v.grad].map((x) => (x as Tensor).data())
    q.grad = k.grad = v.grad = null
    const ref = naive(q, k, v, mask)
    ref.backward(g)
    const want = [ref, q.grad, k.grad, v.grad].map((x) => (x as Tensor).data())
    for (const [i, name] of ['out', 'dq', 'dk', 'dv'].entries())
      assertClose(t, got[i], want[i], 1e-4, 2e-5, `${[B, L, S, E, Ev]} ${name}`)
  }
})

t.test('dropout on the probabilities: reproducible for a seed, unbiased on average', async (t) => {
  const q = r([2, 16, 8], 'float32')
  const k = r([2, 40, 8], 'float32')
  const v = r([2, 40, 8], 'float32')
  const a = sdpa(q, k, v, { dropoutP: 0.5, generator: new Generator(1) }).data()
  const b = sdpa(q, k, v, { dropoutP: 0.5, generator: new Generator(1) }).data()
  t.same(Array.from(a), Array.from(b), 'same seed, same output')
  const plain = sdpa(q, k, v).data()
  const mean = new Float64Array(plain.length)
  const draws = 200
  const g = new Generator(2)
  for (let i = 0; i < draws; i++)
    sdpa(q, k, v, { dropoutP: 0.5, generator: g })
      .data()
      .forEach((x, j) => (mean[j] += x / draws))
  let worst = 0
  for (let j = 0; j < plain.length; j++) worst = Math.max(worst, Math.abs(mean[j] - plain[j]))
  t.ok(worst < 0.25, `mean over ${draws} masks is the undropped output (max deviation ${worst.toFixed(3)})`)
})

t.test('memory does not grow with L^2: L = 4096 allocates O(L * E)', async (t) => {
  const L = 4096
  const E = 32
  const q = r([1, L, E], 'float32').requiresGrad_()
  const k = r([1, L, E], 'float32').requiresGrad_()
  const v = r([1, L, E], 'float32').requiresGrad_()
  const g = r([1, L, E], 'float32')
  const n = native as unknown as { alloc: (bytes: number) => ArrayBuffer }
  const alloc = n.alloc
  let total = 0
  let largest = 0
  n.alloc = (bytes: number) => {
    total += bytes
    largest = Math.max(largest, bytes)
    return alloc(bytes)
  }
  const live0 = memoryStats().bytes
  try {
    const out = sdpa(q, k, v, { isCausal: true })
    const afterForward = memoryStats().bytes - live0
    out.backward(g)
    const square = L * L * 4
    const slab = L * E * 4
    t.ok(afterForward < 2 * slab + 4 * L + 1024, `forward keeps out + logsumexp: ${afterForward} bytes`)
    t.ok(total < 8 * slab, `forward + backward allocated ${total} bytes (L*E*4 = ${slab}, L^2*4 = ${square})`)
    t.ok(largest <= slab, `largest allocation ${largest} bytes`)
  } finally {
    n.alloc = alloc
  }
})

t.test('bad inputs get clear errors', async (t) => {
  const q = r([2, 3, 4])
  const k = r([2, 5, 4])
  const v = r([2, 5, 6])
  t.throws(
    () => sdpa(q, r([2, 5, 3]), v),
    /scaledDotProductAttention: shapes do not fit: query \[2, 3, 4\], key \[2, 5, 3\], value \[2, 5, 6\]/,
  )
  t.throws(() => sdpa(q, k, r([2, 4, 6])), /shapes do not fit/)
  t.throws(
    () => sdpa(q, r([3, 5, 4]), r([3, 5, 6])),
    /scaledDotProductAttention: shapes \[2\] and \[3\] and \[3\] cannot be broadcast together/,
  )
  t.throws(
    () => sdpa(q, k.float(), v),
    /scaledDotProductAttention: query, key and value must share a float dtype, got float64, float32, float64/,
  )
  t.throws(() => sdpa(r([4]), k, v), /need at least 2 dims/)
  t.throws(
    () => sdpa(q, k, v, { attnMask: r([3, 4]) }),
    /scaledDotProductAttention: attnMask \[3, 4\] does not broadcast to \[2, 3, 5\]/,
  )
  t.throws(
    () => sdpa(q, k, v, { attnMask: tensor([1], { dtype: 'int32' }) }),
    /attnMask must be bool or float64 \(additive\), got int32/,
  )
  t.throws(() => sdpa(q, k, v, { attnMask: r([3, 5]), isCausal: true }), /give either attnMask or isCausal, not both/)
  t.throws(() => sdpa(q, k, v, { dropoutP: 1 }), /dropoutP must be in \[0, 1\), got 1/)
  const d = r([2, 3, 4])
  d.dispose()
  t.throws(() => sdpa(d, k, v), /scaledDotProductAttention: the tensor of shape \[2, 3, 4\] was disposed/)
  const n = native as unknown as Record<string, (...a: unknown[]) => unknown>
  const code = dtypeCode
  const desc = (x: Tensor) => [x.storage.handle, x.offset, x.shape, x.strides, code[x.dtype]]
  const out = r([2, 3, 6])
  const lse = r([2, 3])
  t.throws(
    () => n.attentionForward(desc(out), desc(lse), desc(q), desc(k), desc(v), null, false, 0.5, 0, 0, 0, 0),
    /attentionForward: expected 11 arguments, got 12/,
  )
  t.throws(
    () => n.attentionForward(desc(r([2, 3, 5])), desc(lse), desc(q), desc(k), desc(v), null, false, 0.5, 0, 0, 0),
    /attentionForward: argument 'out' must be a contiguous float64 tensor of shape \[2, 3, 6\]/,
  )
  t.throws(
    () =>
      n.attentionForward(desc(out), desc(lse), desc(q.transpose(1, 2)), desc(k), desc(v), null, false, 0.5, 0, 0, 0),
    /attentionForward: shapes do not fit/,
  )
  t.throws(
    () => n.attentionForward(desc(out), desc(lse), desc(q), desc(k), desc(v), desc(r([2, 3, 4])), false, 0.5, 0, 0, 0),
    /attentionForward: mask must be a \[\.\.\., 3, 5\] view, got \[2, 3, 4\]/,
  )
  t.throws(
    () => n.attentionForward(desc(out), desc(lse), desc(q), desc(k), desc(v), desc(r([3, 3, 5])), false, 0.5, 0, 0, 0),
    /attentionForward: mask \[3, 3, 5\] has 3 batch entries, q has 2/,
  )
  t.throws(
    () => n.attentionForward(desc(out), desc(lse), desc(q), desc(k), desc(v), null, false, 0.5, 0.5, -3, 0),
    /attentionForward: seedLo and seedHi must be unsigned 32-bit integers/,
  )
  t.throws(
    () =>
      n.attentionBackward(
        desc(q),
        desc(k),
        desc(v),
        desc(r([2, 3, 5])),
        desc(out),
        desc(q),
        desc(k),
        desc(v),
        desc(out),
        desc(lse),
        null,
        false,
        0.5,
        0,
        0,
        0,
      ),
    /attentionBackward: gradMask needs an additive float mask/,
  )
  t.throws(
    () =>
      n.attentionForward(
        desc(out),
        desc(lse),
        [q.storage.handle, 0, [2, 30, 4], [120, 4, 1], 1],
        desc(k),
        desc(v),
        null,
        false,
        0.5,
        0,
        0,
        0,
      ),
    /attentionForward: argument 'q': view \[2, 30, 4\] at offset 0 exceeds its storage/,
  )
})

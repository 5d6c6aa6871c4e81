// cat's one-pass native path (every input contiguous in the output's dtype) and its copy
// fallback (casts, strided inputs), against the inputs read back out of the result.
import t, { type Test } from 'tap'
import * as iv from '../../src'
import { native } from '../../src/backend/native'
import { leaf } from '../helpers'

iv.manualSeed(3)

/** Each input equals its slice of out along dim, read with narrow + contiguous (the copy kernel). */
function checkSlices(t: Test, out: iv.Tensor, inputs: iv.Tensor[], dim: number, what: string) {
  let at = 0
  for (const [i, x] of inputs.entries()) {
    const part = out.narrow(dim, at, x.shape[dim]).contiguous()
    t.same(Array.from(part.data()), Array.from(x.to(out.dtype).contiguous().data()), `${what}: tensors[${i}]`)
    at += x.shape[dim]
  }
  t.equal(at, out.shape[dim], `${what}: sizes along dim ${dim}`)
}

t.test('cat along every dim, every dtype, matches the inputs it joined', async (t) => {
  for (const dtype of ['float32', 'float64', 'int32', 'bool'] as const) {
    for (const dim of [0, 1, 2]) {
      const sizes = [3, 1, 4]
      const inputs = sizes.map((s) => {
        const shape = [2, 5, 3]
        shape[dim] = s
        return iv.randn(shape).mul(4).to(dtype)
      })
      const out = iv.cat(inputs, dim)
      t.same(
        out.shape,
        [2, 5, 3].map((n, d) => (d === dim ? 8 : n)),
        `${dtype} dim ${dim} shape`,
      )
      t.equal(out.dtype, dtype)
      checkSlices(t, out, inputs, dim, `${dtype} dim ${dim}`)
    }
  }
})

t.test('large blocks split across threads, empty inputs, negative dim', async (t) => {
  const a = iv.randn([2, 300000])
  const b = iv.randn([2, 70001])
  const empty = iv.zeros([2, 0])
  const out = iv.cat([a, empty, b], -1)
  t.same(out.shape, [2, 370001])
  checkSlices(t, out, [a, empty, b], 1, 'blocks of 1.2 MB')
  t.same(iv.cat([empty, empty], 1).shape, [2, 0], 'only empty inputs')
})

t.test('fallback: mixed dtypes promote, strided inputs are read through their strides', async (t) => {
  const f = iv.randn([3, 4])
  const i = iv.randint(-5, 5, [2, 4])
  const mixed = iv.cat([f, i], 0)
  t.equal(mixed.dtype, 'float32')
  checkSlices(t, mixed, [f, i], 0, 'float32 + int32')
  const s = iv.randn([4, 3]).transpose(0, 1)
  const strided = iv.cat([f.narrow(1, 0, 2), s, f], 1)
  checkSlices(t, strided, [f.narrow(1, 0, 2), s, f], 1, 'narrowed and transposed inputs')
})

t.test('backward: each input gets its slice of the gradient (gradcheck, float64)', async (t) => {
  for (const dim of [0, 1, 2])
    t.ok(
      iv.gradcheck((x, y) => iv.cat([x, y.square(), x.exp()], dim), [leaf([2, 3, 4]), leaf([2, 3, 4])]),
      `dim ${dim}`,
    )
  const x = iv.randn([4, 6]).requiresGrad_()
  const y = iv.randn([4, 2]).requiresGrad_()
  const g = iv.randn([4, 8])
  iv.cat([x, y], 1).backward(g)
  t.same(Array.from((x.grad as iv.Tensor).data()), Array.from(g.narrow(1, 0, 6).contiguous().data()), 'x.grad')
  t.same(Array.from((y.grad as iv.Tensor).data()), Array.from(g.narrow(1, 6, 2).contiguous().data()), 'y.grad')
})

t.test('bad inputs get clear errors', async (t) => {
  t.throws(() => iv.cat([iv.zeros([2, 3]), iv.zeros([3, 3])], 1), /cat: tensors\[1\] has shape \[3, 3\]/)
  t.throws(() => iv.cat([iv.zeros([2, 3])], 2), /cat: dim 2 is out of range/)
  const n = native as unknown as Record<string, (...a: unknown[]) => unknown>
  const desc = (v: iv.Tensor) => [v.storage.handle, v.offset, v.shape, v.strides, v.dtype === 'float32' ? 0 : 1]
  const out = iv.empty([2, 5])
  const a = iv.zeros([2, 2])
  const b = iv.zeros([2, 3])
  t.throws(() => n.cat(desc(out), 1), /cat: expected at least 3 arguments, got 2/)
  t.throws(() => n.cat(desc(out), 2, desc(a), desc(b)), /cat: dim 2 is out of range for out of shape \[2, 5\]/)
  t.throws(() => n.cat(desc(out), 1, desc(a), desc(a)), /cat: the inputs' sizes along dim 1 add up to 4, out has 5/)
  t.throws(
    () => n.cat(desc(out), 1, desc(a), desc(iv.zeros([3, 3]))),
    /cat: argument 'tensors\[1\]' has shape \[3, 3\], which does not match out's \[2, 5\] outside dim 1/,
  )
  t.throws(
    () => n.cat(desc(out), 1, desc(a), desc(iv.zeros([3, 2]).transpose(0, 1))),
    /cat: argument 'tensors\[1\]' must be a contiguous float32 tensor, got a strided float32 \[2, 3\]/,
  )
  t.throws(
    () => n.cat(desc(out), 1, desc(a), desc(iv.zeros([2, 3], { dtype: 'float64' }))),
    /cat: argument 'tensors\[1\]' must be a contiguous float32 tensor, got float64 \[2, 3\]/,
  )
  t.throws(
    () => n.cat(desc(out.transpose(0, 1)), 0, desc(a.transpose(0, 1)), desc(b.transpose(0, 1))),
    /cat: argument 'out' must be contiguous, got a strided \[5, 2\]/,
  )
})

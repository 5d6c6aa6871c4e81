// The two tensor forms the CPU addon reads: the descriptor [buffer, offset, shape, strides,
// dtype], and the flat form the backend sends, two arguments: the buffer and its packed layout
// Float64Array [offset, dtype, ndim, shape..., strides...] (cached per view). Both give the same
// results, mixed in one call too; a bad packed layout is refused by name.
import t from 'tap'
import * as iv from '../../src'
import { native } from '../../src/backend/native'
import { describe, describePacked } from '../../src/backend/kernel-calls'

const binary = native.binary as (...a: unknown[]) => void

t.test('packed and classic descriptors address the same elements', async (t) => {
  const base = iv.arange(0, 24).reshape([2, 3, 4]).float()
  const view = base.permute(2, 0, 1).narrow(0, 1, 2) // offset 1, strides [1, 12, 4]
  const other = iv.randn(view.shape)
  const viaClassic = iv.empty(view.shape)
  const viaPacked = iv.empty(view.shape)
  binary('add', describe(viaClassic), describe(view), describe(other), 1)
  binary('add', ...describePacked(viaPacked), ...describePacked(view), ...describePacked(other), 1)
  t.same(Array.from(viaPacked.data()), Array.from(viaClassic.data()))
  t.same(Array.from(viaPacked.data()), Array.from(view.add(other).data()), 'and what the op computes')
  t.equal(describePacked(view)[1], describePacked(view)[1], 'the layout is made once per view')
  const mixed = iv.empty(view.shape)
  binary('add', describe(mixed), ...describePacked(view), describe(other), 1)
  t.same(Array.from(mixed.data()), Array.from(viaClassic.data()), 'flat and classic in one call')
})

t.test('flat tensors count as one argument each', async (t) => {
  const x = iv.randn([2, 3])
  const out = describePacked(iv.empty([2, 3]))
  t.throws(() => binary('add', ...out, ...describePacked(x), ...describePacked(x)), /binary: expected 5 arguments, got 4/)
  t.throws(
    () => binary('add', ...out, ...describePacked(x), describePacked(x), 1),
    /binary: argument 'b' must be a tensor descriptor \[buffer, offset, shape, strides, dtype\], or a buffer and its packed layout/,
    'the pair as one array is not a tensor',
  )
  const cat = native.cat as (...a: unknown[]) => void
  t.throws(() => cat(...out, 0), /cat: expected at least 3 arguments, got 2/)
})

t.test('a parameter given new memory gets a new layout', async (t) => {
  const lin = new iv.nn.Linear(3, 2)
  const before = describePacked(lin.weight)[1]
  lin.to('float64')
  const after = describePacked(lin.weight)[1]
  t.not(after, before)
  t.equal(after[1], 1, 'the float64 code')
  t.equal(lin.forward(iv.randn([4, 3], { dtype: 'float64' })).dtype, 'float64')
})

t.test('bad packed layouts are refused, naming the op and the argument', async (t) => {
  const x = iv.randn([2, 3])
  const [buffer] = describePacked(x)
  const out = describePacked(iv.empty([2, 3]))
  const call = (layout: unknown) => () => binary('add', ...out, buffer, layout, ...describePacked(x), 1)
  const shape = /binary: argument 'a': the packed layout must be a Float64Array \[offset, dtype, ndim, shape\.\.\., strides\.\.\.\]/
  t.throws(call(Float32Array.of(0, 0, 2, 2, 3, 3, 1)), shape, 'a Float32Array')
  t.throws(call(Float64Array.of(0, 0, 2, 2, 3, 3)), shape, 'too short for its ndim')
  t.throws(call(Float64Array.of(0, 0, 2, 2.5, 3, 3, 1)), shape, 'a fractional size')
  t.throws(call(Float64Array.of(0, 0, 17, ...new Array(34).fill(1))), shape, 'more than 16 dims')
  t.throws(call(Float64Array.of(-1, 0, 2, 2, 3, 3, 1)), /argument 'a': offset must be a non-negative integer/)
  t.throws(call(Float64Array.of(0, 9, 2, 2, 3, 3, 1)), /argument 'a': unknown dtype code 9/)
  t.throws(call(Float64Array.of(0, 5, 2, 2, 3, 3, 1)), /argument 'a': binary does not take bfloat16 tensors/)
  t.throws(call(Float64Array.of(1000, 0, 2, 2, 3, 3, 1)), /argument 'a': view \[2, 3\] at offset 1000 exceeds its storage/)
  t.throws(call(Float64Array.of(0, 0, 2, -2, 3, 3, 1)), /argument 'a': negative size in shape \[-2, 3\]/)
})

t.test('a call longer than the inline argument slots (cat of 40 tensors)', async (t) => {
  const parts = Array.from({ length: 40 }, (_, i) => iv.full([2], i))
  const joined = iv.cat(parts, 0)
  t.same(Array.from(joined.data()), parts.flatMap((_, i) => [i, i]))
})

// The two tensor descriptor forms the CPU addon reads: [buffer, offset, shape, strides, dtype]
// and the packed [buffer, Float64Array [offset, dtype, ndim, shape..., strides...]] the backend
// sends (cached per view). Both give the same results; a bad packed layout is refused by name.
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
  binary('add', describePacked(viaPacked), describePacked(view), describePacked(other), 1)
  t.same(Array.from(viaPacked.data()), Array.from(viaClassic.data()))
  t.same(Array.from(viaPacked.data()), Array.from(view.add(other).data()), 'and what the op computes')
  t.equal(describePacked(view)[1], describePacked(view)[1], 'the layout is made once per view')
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
  const call = (layout: unknown) => () => binary('add', out, [buffer, layout], describePacked(x), 1)
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

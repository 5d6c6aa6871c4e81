import t from 'tap'
import {
  arange,
  eye,
  full,
  linspace,
  manualSeed,
  ones,
  rand,
  randint,
  randn,
  randperm,
  tensor,
  zeros,
  Generator,
} from '../../src'

t.test('tensor from nested arrays and typed arrays', async (t) => {
  const a = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ])
  t.same(a.shape, [2, 3])
  t.equal(a.dtype, 'float32')
  t.same(a.toArray(), [
    [1, 2, 3],
    [4, 5, 6],
  ])
  const b = tensor(new Int32Array([1, 2, 3, 4]), { shape: [2, 2] })
  t.equal(b.dtype, 'int32')
  t.same(b.toArray(), [
    [1, 2],
    [3, 4],
  ])
  const c = tensor([true, false])
  t.equal(c.dtype, 'bool')
  t.same(c.toArray(), [true, false])
  t.equal(tensor([2.5], { dtype: 'float64' }).item(), 2.5)
  t.same(tensor(new Float64Array([1, 2]), { dtype: 'float32' }).data(), new Float32Array([1, 2]))
})

t.test('tensor rejects bad input with clear errors', async (t) => {
  t.throws(() => tensor([[1, 2], [3]]), /ragged/)
  t.throws(() => tensor(new Float32Array(5), { shape: [2, 2] }), /needs 4 elements, the array has 5/)
  t.throws(() => tensor([1], { dtype: 'float16' as never }), /unknown dtype "float16"/)
  t.throws(() => zeros([2, -1]), /invalid size -1/)
  t.throws(() => tensor([1, 2]).item(), /one-element/)
})

t.test('constants and ranges', async (t) => {
  t.same(zeros([2, 2]).toArray(), [
    [0, 0],
    [0, 0],
  ])
  t.same(ones([3], { dtype: 'int32' }).data(), new Int32Array([1, 1, 1]))
  t.same(full([2], 7.5).toArray(), [7.5, 7.5])
  t.same(arange(5).toArray(), [0, 1, 2, 3, 4])
  t.equal(arange(5).dtype, 'int32')
  t.same(arange(1, 2, 0.25).toArray(), [1, 1.25, 1.5, 1.75])
  t.same(linspace(0, 1, 5).toArray(), [0, 0.25, 0.5, 0.75, 1])
  t.same(eye(2, 3).toArray(), [
    [1, 0, 0],
    [0, 1, 0],
  ])
  t.throws(() => arange(0, 1, 0), /step must be a non-zero/)
})

t.test('random draws reproduce for a seed and have the right moments', async (t) => {
  manualSeed(42)
  const a = randn([1000]).data()
  manualSeed(42)
  const b = randn([1000]).data()
  t.same(a, b)
  const n = Array.from(randn([20000], { generator: new Generator(1) }).data())
  const mean = n.reduce((s, v) => s + v, 0) / n.length
  const variance = n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length
  t.ok(Math.abs(mean) < 0.03, `mean ${mean}`)
  t.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`)
  const u = rand([10000]).data()
  t.ok(u.every((v) => v >= 0 && v < 1))
  const r = randint(3, 7, [1000]).data()
  t.ok(r.every((v) => v >= 3 && v < 7))
  t.same(new Set(r).size, 4)
  const p = randperm(50).data()
  t.same(
    [...p].sort((x, y) => x - y),
    [...Array(50).keys()],
  )
  const g = new Generator(7)
  const state = g.getState()
  const first = g.random()
  g.setState(state)
  t.equal(g.random(), first)
})

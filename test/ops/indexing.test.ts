import t from 'tap'
import { dtypeCode } from '../../src/backend/element-types'
import {
  embedding,
  full,
  gather,
  Generator,
  gradcheck,
  indexSelect,
  randint,
  randn,
  scatterAdd,
  tensor,
  type Tensor,
} from '../../src'
import { native } from '../../src/backend/native'
import { checkParity } from './fixture'
import { assertClose } from '../helpers'

const gen = new Generator(4)
const rg = (shape: number[]) => randn(shape, { dtype: 'float64', generator: gen }).requiresGrad_()
const r = (shape: number[]) => randn(shape, { dtype: 'float64', generator: gen })
const idx = (v: number[], shape?: number[]) => tensor(v, { dtype: 'int32', shape })

t.test('indexSelect, embedding, gather and scatterAdd match PyTorch', async (t) => {
  checkParity(t, 'indexing', 'indexSelect', (c, i) => indexSelect(i.x, c.options.dim as number, i.index))
  checkParity(t, 'indexing', 'embedding', (c, i) =>
    embedding(i.indices, i.weight, { paddingIdx: c.options.paddingIdx as number | null }),
  )
  checkParity(t, 'indexing', 'gather', (c, i) => i.x.gather(c.options.dim as number, i.index))
  checkParity(t, 'indexing', 'scatterAdd', (c, i) => i.x.scatterAdd(c.options.dim as number, i.index, i.src))
})

t.test('float64 gradcheck (repeated indices accumulate)', async (t) => {
  t.ok(
    gradcheck((x) => indexSelect(x, 1, idx([2, 0, 2])), [rg([2, 3, 4])]),
    'indexSelect',
  )
  t.ok(
    gradcheck((x) => x.transpose(0, 1).indexSelect(0, idx([1, 1])), [rg([3, 2])]),
    'indexSelect of a strided view',
  )
  t.ok(
    gradcheck((w) => embedding(idx([3, 0, 3, 1], [2, 2]), w), [rg([4, 3])]),
    'embedding',
  )
  t.ok(
    gradcheck((x) => gather(x, 0, idx([1, 0, 1, 1, 0, 0], [3, 2])), [rg([2, 2])]),
    'gather',
  )
  const index = idx([0, 2, 2, 1, 0, 0], [2, 3])
  t.ok(
    gradcheck((x, src) => scatterAdd(x, 1, index, src), [rg([2, 4]), rg([2, 3])]),
    'scatterAdd',
  )
  t.ok(
    gradcheck((x, src) => scatterAdd(x, 0, idx([1, 0], [1, 2]), src), [rg([2, 2]), rg([3, 4])]),
    'scatterAdd with src larger than index',
  )
})

t.test('embedding: padding rows get no gradient but are looked up', async (t) => {
  const w = rg([3, 2])
  const out = embedding(idx([1, 2, 1]), w, { paddingIdx: 1 })
  assertClose(t, out.data(), [...w.data().slice(2, 4), ...w.data().slice(4, 6), ...w.data().slice(2, 4)], 0, 0, 'rows')
  out.sum().backward()
  t.same(Array.from((w.grad as Tensor).data()), [0, 0, 0, 0, 1, 1], 'gradient skips the padding row')
})

t.test('large index ops split across threads without races', async (t) => {
  const x = r([64, 500])
  const index = randint(0, 500, [64, 700], { generator: gen })
  const src = r([64, 700])
  const out = scatterAdd(x, 1, index, src).data()
  const xd = x.data()
  const id = index.data()
  const sd = src.data()
  const ref = Float64Array.from(xd)
  for (let i = 0; i < 64; i++) for (let j = 0; j < 700; j++) ref[i * 500 + id[i * 700 + j]] += sd[i * 700 + j]
  assertClose(t, out, ref, 1e-12, 1e-12, 'scatterAdd')
  const g = gather(x, 1, index).data()
  let ok = true
  for (let i = 0; i < 64 * 700; i++) ok &&= g[i] === xd[Math.floor(i / 700) * 500 + id[i]]
  t.ok(ok, 'gather')
  // Embedding gradients large enough that the kernel splits the table's rows into ranges (one
  // column block, then two) and zeroes each range itself: every row is the sum, in index
  // order, of the output-gradient rows that picked it, and zero where none did.
  for (const [num, dim] of [
    [10000, 40],
    [2500, 600],
  ]) {
    const w = rg([num, dim])
    const picks = Array.from(randint(0, num, [700], { generator: gen }).data())
    picks[5] = picks[9] = picks[600] // a row picked three times
    picks[11] = 7 // the padding row
    const ids = idx(picks)
    const gy = r([700, dim])
    const out = embedding(ids, w, { paddingIdx: 7 })
    // The gradient's buffer comes from the cache, holding a freed tensor's 5s: rows the kernel
    // should zero would show them.
    full([num, dim], 5, { dtype: 'float64' }).dispose()
    out.backward(gy)
    const want = new Float64Array(num * dim)
    const idd = ids.data(),
      gyd = gy.data()
    for (let k = 0; k < 700; k++)
      if (idd[k] !== 7) for (let e = 0; e < dim; e++) want[idd[k] * dim + e] += gyd[k * dim + e]
    assertClose(t, (w.grad as Tensor).data(), want, 0, 0, `embedding gradient of [${num}, ${dim}]`)
  }
})

t.test('gradients of empty inputs are empty, not a crash', async (t) => {
  const x = rg([0, 5])
  indexSelect(x, 1, idx([1, 2]))
    .sum()
    .backward()
  t.same((x.grad as Tensor).shape, [0, 5], 'indexSelect along dim 1 of [0, 5]')
  const w = rg([4, 0])
  embedding(idx([1, 2]), w)
    .sum()
    .backward()
  t.same((w.grad as Tensor).shape, [4, 0], 'embedding of a [4, 0] table')
})

t.test('bad inputs get clear errors, out-of-range indices included', async (t) => {
  const x = r([3, 4])
  t.throws(() => indexSelect(x, 1, idx([0, 4])), /indexSelect: index 4 is out of range for dim 1 of size 4/)
  t.throws(() => indexSelect(x, 0, idx([-1])), /indexSelect: index -1 is out of range for dim 0 of size 3/)
  t.throws(() => indexSelect(x, 2, idx([0])), /indexSelect: dim 2 is out of range for a tensor of 2 dims/)
  t.throws(() => indexSelect(x, 0, tensor([0, 1])), /indexSelect: index must be int32, got float32/)
  t.throws(() => indexSelect(x, 0, idx([0, 1], [1, 2])), /indexSelect: index must be 0-d or 1-d, got shape \[1, 2\]/)
  t.throws(
    () => embedding(idx([0, 7]), r([5, 2])),
    /embedding: index 7 is out of range for dim 0 of size 5 \(weight \[5, 2\]\)/,
  )
  t.throws(() => embedding(idx([0]), r([5])), /embedding: weight must be 2-d \[numEmbeddings, dim\], got \[5\]/)
  t.throws(
    () => embedding(idx([0]), r([5, 2]), { paddingIdx: 5 }),
    /embedding: paddingIdx 5 is out of range for 5 embeddings/,
  )
  t.throws(() => gather(x, 1, idx([0, 9], [1, 2])), /gather: index 9 is out of range for dim 1 of size 4/)
  t.throws(() => gather(x, 1, idx([0], [1])), /gather: index \[1\] must have as many dims as input \[3, 4\]/)
  t.throws(
    () => gather(x, 1, idx([0, 0, 0, 0, 0], [5, 1])),
    /gather: index \[5, 1\] is larger than input \[3, 4\] in dim 0/,
  )
  t.throws(
    () => scatterAdd(x, 0, idx([3], [1, 1]), r([1, 1])),
    /scatterAdd: index 3 is out of range for dim 0 of size 3/,
  )
  t.throws(
    () => scatterAdd(x, 0, idx([0, 0], [1, 2]), r([1, 1])),
    /scatterAdd: index \[1, 2\] is larger than input \[3, 4\] or src \[1, 1\] in dim 1/,
  )
  t.throws(
    () => scatterAdd(x, 0, idx([0], [1, 1]), r([1, 1]).float()),
    /scatterAdd: src is float32 but the input is float64/,
  )
  const d = r([2])
  d.dispose()
  t.throws(() => gather(d, 0, idx([0])), /gather: the tensor of shape \[2\] was disposed/)
})

t.test('native entry points check indices and descriptors before writing', async (t) => {
  const n = native as unknown as Record<string, (...a: unknown[]) => unknown>
  const code = dtypeCode
  const desc = (v: Tensor) => [v.storage.handle, v.offset, v.shape, v.strides, code[v.dtype]]
  const x = r([2, 5, 3])
  const out = r([2, 2, 3])
  const before = Array.from(out.data())
  t.throws(
    () => n.indexSelect(desc(out), desc(x), desc(idx([1, 5])), 1),
    /indexSelect: index 5 is out of range for dim 1 of size 5/,
  )
  t.same(Array.from(out.data()), before, 'nothing written on error')
  t.throws(() => n.indexSelect(desc(out), desc(x), desc(idx([1, 2])), 1, 0), /indexSelect: expected 4 arguments, got 5/)
  t.throws(
    () => n.indexSelect(desc(r([2, 3, 3])), desc(x), desc(idx([1, 2])), 1),
    /indexSelect: output must be float64 \[2, 2, 3\], got float64 \[2, 3, 3\]/,
  )
  t.throws(
    () => n.indexAdd(desc(x), desc(idx([0, 1])), desc(r([2, 3, 3])), 1, -1, true),
    /indexAdd: src must be float64 \[2, 2, 3\]/,
  )
  t.throws(
    () => n.gather(desc(out), desc(x), desc(idx([0, 1], [1, 2])), 0),
    /gather: index \[1, 2\], x \[2, 5, 3\] and index \[1, 2\] must have the same number of dims/,
  )
  t.throws(
    () => n.scatterAdd(desc(x), desc(idx([7], [1, 1, 1])), desc(r([1, 1, 1])), 1),
    /scatterAdd: index 7 is out of range for dim 1 of size 5/,
  )
  t.throws(
    () => n.scatterAdd(desc(x), desc(idx([0], [1, 1, 1])), desc(r([1, 1, 1])), 3),
    /scatterAdd: dim 3 is out of range for 3 dims/,
  )
  t.throws(
    () => n.gather(desc(out), desc(x), [x.storage.handle, 0, [2, 20, 3], [60, 3, 1], 2], 1),
    /gather: argument 'index': view \[2, 20, 3\] at offset 0 exceeds its storage/,
  )
})

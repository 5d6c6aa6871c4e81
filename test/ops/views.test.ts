import t from 'tap'
import * as iv from '../../src'
import { leaf } from '../helpers'

iv.manualSeed(2)

t.test('views share memory and follow PyTorch semantics', async (t) => {
  const x = iv.arange(24).reshape(2, 3, 4)
  t.same(x.strides, [12, 4, 1])
  const p = x.permute(2, 0, 1)
  t.same(p.shape, [4, 2, 3])
  t.equal(p.storage, x.storage, 'permute is a view')
  t.same(Array.from(p.contiguous().reshape(-1).data().subarray(0, 6)), [0, 4, 8, 12, 16, 20])
  t.same(x.transpose(0, 2).shape, [4, 3, 2])
  t.same(x.unsqueeze(1).shape, [2, 1, 3, 4])
  t.same(x.unsqueeze(-1).shape, [2, 3, 4, 1])
  t.same(x.unsqueeze(1).squeeze().shape, [2, 3, 4])
  t.same(iv.zeros([1, 3, 1]).squeeze(0).shape, [3, 1])
  t.same(x.flatten(1).shape, [2, 12])
  t.same(x.narrow(2, 1, 2).toArray(), [
    [
      [1, 2],
      [5, 6],
      [9, 10],
    ],
    [
      [13, 14],
      [17, 18],
      [21, 22],
    ],
  ])
  t.same(x.slice(2, 0, undefined, 2).select(0, 1).toArray(), [
    [12, 14],
    [16, 18],
    [20, 22],
  ])
  t.same(x.select(1, -1).toArray(), [
    [8, 9, 10, 11],
    [20, 21, 22, 23],
  ])
  t.same(iv.tensor([1, 2, 3]).expand(2, 3).toArray(), [
    [1, 2, 3],
    [1, 2, 3],
  ])
  // reshape of a permuted tensor: a view when strides allow, a copy otherwise
  const v = x.permute(1, 0, 2).reshape(3, 2, 2, 2)
  t.equal(v.storage, x.storage, 'splitting a dim stays a view')
  const c = x.permute(2, 1, 0).reshape(-1)
  t.not(c.storage, x.storage, 'flattening a permuted tensor copies')
  t.same(Array.from(c.data().subarray(0, 4)), [0, 12, 4, 16])
  t.throws(() => x.permute(2, 1, 0).view(-1), /view: shape \[24\] is not compatible/)
  t.throws(() => x.reshape(5, -1), /invalid for input of size 24/)
  t.throws(() => x.permute(0, 1), /got 2 dims/)
  t.throws(() => x.narrow(1, 2, 2), /narrow: start 2 and length 2 do not fit dim 1 of size 3/)
  t.throws(() => x.select(0, 5), /index 5 is out of range/)
  t.throws(() => x.transpose(0, 3), /dim1 3 is out of range/)
})

t.test('cat, stack, split, chunk', async (t) => {
  const a = iv.tensor([
    [1, 2],
    [3, 4],
  ])
  const b = iv.tensor([[5, 6]])
  t.same(iv.cat([a, b]).toArray(), [
    [1, 2],
    [3, 4],
    [5, 6],
  ])
  t.same(iv.cat([a, a], 1).toArray(), [
    [1, 2, 1, 2],
    [3, 4, 3, 4],
  ])
  t.same(iv.stack([a, a], 2).shape, [2, 2, 2])
  t.same(
    iv
      .arange(7)
      .split(3)
      .map((s) => s.toArray()),
    [[0, 1, 2], [3, 4, 5], [6]],
  )
  t.same(
    iv
      .arange(6)
      .split([1, 5])
      .map((s) => s.numel),
    [1, 5],
  )
  t.same(
    iv
      .arange(6)
      .chunk(4)
      .map((s) => s.numel),
    [2, 2, 2],
  )
  t.throws(() => iv.cat([a, iv.zeros([1, 3])]), /cat: tensors\[1\] has shape \[1, 3\]/)
  t.throws(() => iv.cat([]), /non-empty/)
  t.throws(() => iv.arange(6).split([1, 2]), /do not add up/)
})

t.test('view ops pass gradcheck', async (t) => {
  const cases: [string, (x: iv.Tensor) => iv.Tensor][] = [
    ['reshape', (x) => x.reshape(4, 6).mul(x.reshape(4, 6))],
    ['permute', (x) => x.permute(2, 0, 1).exp()],
    ['transpose+reshape copy', (x) => x.transpose(0, 2).reshape(-1).square()],
    ['expand', (x) => x.narrow(1, 0, 1).expand(2, 5, 4).sin()],
    ['slice with step', (x) => x.slice(2, 1, 4, 2).square()],
    ['select', (x) => x.select(1, 2).exp()],
    ['squeeze/unsqueeze', (x) => x.unsqueeze(0).squeeze(0).square()],
    ['flatten', (x) => x.flatten(0, 1).square()],
    ['cat', (x) => iv.cat([x, x.square()], 1)],
    ['stack', (x) => iv.stack([x, x.exp()], 3)],
    ['split', (x) => x.split(1, 1)[2].square()],
    ['clone', (x) => x.clone().square()],
  ]
  for (const [name, fn] of cases) t.ok(iv.gradcheck(fn, [leaf([2, 3, 4])]), name)
})

t.test('transposing copies (the last two dims swapped) hold every element, at any sizes', async (t) => {
  // Float32 copies whose output rows read the source down its columns take a blocked path; the
  // reference reads each element through its strides. Sizes off multiples of 8, an outer dim,
  // a single matrix split into blocks of rows, and a destination with padded rows.
  const read = (x: iv.Tensor, idx: number[]) => {
    const d = x.data() // a contiguous copy in x's logical order
    let flat = 0
    for (let i = 0; i < idx.length; i++) flat = flat * x.shape[i] + idx[i]
    return d[flat]
  }
  for (const [shape, perm] of [
    [
      [3, 13, 29],
      [0, 2, 1],
    ],
    [
      [2, 16, 9, 7],
      [0, 2, 3, 1],
    ],
    [
      [70, 131],
      [1, 0],
    ],
    [
      [5, 8, 8],
      [0, 2, 1],
    ],
  ] as [number[], number[]][]) {
    const x = iv.randn(shape)
    const y = x.permute(...perm).contiguous()
    const xd = x.data()
    const yd = y.data()
    const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1))
    let wrong = 0
    const idx = new Array<number>(shape.length).fill(0)
    for (let k = 0; k < yd.length; k++) {
      let rem = k
      for (let i = shape.length - 1; i >= 0; i--) {
        idx[i] = rem % y.shape[i]
        rem = Math.floor(rem / y.shape[i])
      }
      let src = 0
      for (let i = 0; i < shape.length; i++) src += idx[i] * strides[perm[i]]
      if (yd[k] !== xd[src]) wrong++
    }
    t.equal(wrong, 0, `permute [${shape}] by [${perm}]`)
  }
  // Into a view whose rows are 40 apart: the 8 columns past each row stay as they were.
  const m = iv.randn([20, 32])
  const dst = iv.full([32, 40], 7)
  dst.narrow(1, 0, 20).copy_(m.t())
  let wrong = 0
  for (let r = 0; r < 32; r++)
    for (let c = 0; c < 40; c++) if (read(dst, [r, c]) !== (c < 20 ? read(m, [c, r]) : 7)) wrong++
  t.equal(wrong, 0, 'copy_ of a transpose into a narrowed destination')
})

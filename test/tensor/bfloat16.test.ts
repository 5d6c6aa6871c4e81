// The bfloat16 dtype: PyTorch's rounding and arithmetic (test/fixtures/bfloat16.json, written
// by scripts/fixtures/bfloat16.py), the widening fallback's aliasing and layouts, autograd,
// safetensors and the errors.
import t from 'tap'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as iv from '../../src'
import { native } from '../../src/backend/native'
import { describe } from '../../src/backend/kernel-calls'
import { loadFile, saveFile } from '../../src/io/safetensors'

interface Bits {
  shape: number[]
  bits: number[]
}
const FIXTURE = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'bfloat16.json'), 'utf8')) as {
  casts: { float32Bits: number[]; bfloat16Bits: number[] }
  cases: { a: Bits; b: Bits; ops: Record<string, Bits>; toInt32: number[] }
}

const word = new Uint32Array(1)
const asFloat = new Float32Array(word.buffer)
/** The float32 value of bfloat16 bits (exact). */
const widen = (bits: number): number => ((word[0] = bits << 16), asFloat[0])
/** The bfloat16 bits of a value a bfloat16 tensor holds (its float32 value's top half). */
const bitsOf = (v: number): number => ((asFloat[0] = v), word[0] >>> 16)
const fromBits = (c: Bits) => iv.tensor(Float32Array.from(c.bits, widen), { dtype: 'bfloat16' }).reshape(c.shape)
const isNaNBits = (b: number) => (b & 0x7fff) > 0x7f80

/** Distance in units in the last place between two bfloat16 bit patterns of the same sign. */
const ulps = (x: number, y: number) => Math.abs((x & 0x7fff) - (y & 0x7fff)) + ((x ^ y) & 0x8000 ? 1 << 16 : 0)

t.test('rounding float32 to bfloat16 matches PyTorch bit for bit (ties to even, overflow, subnormals)', async (t) => {
  const { float32Bits, bfloat16Bits } = FIXTURE.casts
  const x = iv.tensor(new Float32Array(Int32Array.from(float32Bits).buffer))
  const got = Array.from(x.to('bfloat16').data(), bitsOf)
  const wrong = got.flatMap((b, i) => {
    const want = bfloat16Bits[i]
    const same = isNaNBits(want) ? isNaNBits(b) : b === want
    return same ? [] : [`0x${(float32Bits[i] >>> 0).toString(16)}: 0x${b.toString(16)} vs 0x${want.toString(16)}`]
  })
  t.same(wrong.slice(0, 5), [], `${wrong.length} of ${got.length} differ`)
  t.ok(float32Bits.length > 4000)
})

t.test('casts out of bfloat16: exact widening, truncation to int32, bool', async (t) => {
  const a = fromBits(FIXTURE.cases.a)
  t.same(Array.from(a.to('float64').data()), Array.from(FIXTURE.cases.a.bits, widen))
  t.same(Array.from(a.to('int32').data()), FIXTURE.cases.toInt32)
  t.same(iv.tensor([0, -0, 0.5, NaN], { dtype: 'bfloat16' }).to('bool').toArray(), [false, false, true, true])
  t.same(iv.tensor([1.00390625, 3], { dtype: 'bfloat16' }).toArray(), [1.0, 3], '1 + 2^-8 is a tie and rounds to 1')
  t.equal(iv.full([2], 0.1, { dtype: 'bfloat16' }).data()[1], widen(0x3dcd), 'full rounds its value')
})

t.test("ops on bfloat16 tensors compute in float32 and round once, as PyTorch's CPU kernels", async (t) => {
  const a = fromBits(FIXTURE.cases.a)
  const b = fromBits(FIXTURE.cases.b)
  const positive = a.abs().add(0.25)
  const ours: Record<string, iv.Tensor> = {
    add: a.add(b),
    sub: a.sub(b),
    mul: a.mul(b),
    div: a.div(b),
    addScalar: a.add(0.1),
    mulScalar: a.mul(1.7),
    neg: a.neg(),
    relu: iv.relu(a),
    exp: a.div(4).exp(),
    log: positive.log(),
    sqrt: positive.sqrt(),
    tanh: a.tanh(),
    sigmoid: a.sigmoid(),
    gelu: iv.gelu(a),
    sumDim1: a.sum(1),
    meanDim1: a.mean(1),
    maxDim1: a.max(1),
    softmaxDim1: iv.softmax(a, 1),
  }
  // Exactly rounded in both libraries; the rest may differ by the last float32 bits first.
  const exact = new Set(['add', 'sub', 'mul', 'div', 'addScalar', 'mulScalar', 'neg', 'relu', 'maxDim1'])
  for (const [name, want] of Object.entries(FIXTURE.cases.ops)) {
    const y = ours[name]
    t.equal(y.dtype, 'bfloat16', `${name} dtype`)
    t.same(y.shape, want.shape, `${name} shape`)
    const got = Array.from(y.data(), bitsOf)
    // PyTorch's bfloat16 gelu loses precision in its negative tail (below about -3.5 it is off
    // by up to 30%, or 0, where ours is within 1 ulp of the float32 result): compare absolutely.
    const far = (g: number, w: number) => (name === 'gelu' ? Math.abs(widen(g) - widen(w)) > 1e-4 : ulps(g, w) > 1)
    const worst = Math.max(...got.map((g, i) => ulps(g, want.bits[i])))
    t.ok(exact.has(name) ? worst === 0 : !got.some((g, i) => far(g, want.bits[i])), `${name}: worst ${worst} ulp`)
  }
})

t.test('promotion: bfloat16 with float32 is float32, with integers and float scalars bfloat16', async (t) => {
  const h = iv.ones([2], { dtype: 'bfloat16' })
  t.equal(h.add(iv.ones([2])).dtype, 'float32')
  t.equal(h.add(iv.ones([2], { dtype: 'int32' })).dtype, 'bfloat16')
  t.equal(h.add(2.5).dtype, 'bfloat16')
  t.equal(iv.ones([2], { dtype: 'int32' }).add(iv.tensor(0.5, { dtype: 'bfloat16' })).dtype, 'bfloat16')
  t.equal(h.add(iv.tensor(0.5, { dtype: 'float64' })).dtype, 'bfloat16', 'a 0-dim float64 does not widen it')
})

t.test('the widening fallback keeps in-place aliasing, views and empty tensors right', async (t) => {
  const x = iv.tensor([1, 2, 3, 4, 5, 6], { dtype: 'bfloat16' })
  x.addInPlace(x)
  t.same(x.toArray(), [2, 4, 6, 8, 10, 12], 'x += x on one storage')
  const m = iv.tensor([1, 2, 3, 4, 5, 6], { dtype: 'bfloat16' }).reshape([2, 3])
  m.narrow(1, 1, 1).addInPlace(iv.full([2, 1], 9, { dtype: 'bfloat16' }))
  t.same(
    m.toArray(),
    [
      [1, 11, 3],
      [4, 14, 6],
    ],
    'a strided column updated in place, its neighbours untouched',
  )
  const tr = m.transpose(0, 1).exp()
  t.same(tr.shape, [3, 2])
  t.equal((tr.toArray() as number[][])[0][1], widen(bitsOf(Math.fround(Math.exp(4)))), 'exp of a transposed view')
  const row = iv
    .tensor([1, 2, 3], { dtype: 'bfloat16' })
    .expand([2, 3])
    .add(iv.ones([2, 3], { dtype: 'bfloat16' }))
  t.same(
    row.toArray(),
    [
      [2, 3, 4],
      [2, 3, 4],
    ],
    'a broadcast (stride 0) input',
  )
  t.same(iv.zeros([0, 3], { dtype: 'bfloat16' }).exp().shape, [0, 3], 'an empty tensor')
  t.same(iv.zeros([2, 0], { dtype: 'bfloat16' }).sum(1).toArray(), [0, 0], 'a sum over nothing')
})

t.test('autograd: bfloat16 leaves get bfloat16 gradients, a cast passes float32 gradients back', async (t) => {
  const w = iv.tensor([0.5, -1.25, 3], { dtype: 'bfloat16', requiresGrad: true })
  w.mul(w).sum().backward()
  t.equal(w.grad!.dtype, 'bfloat16')
  t.same(w.grad!.toArray(), [1, -2.5, 6])
  const master = iv.tensor([0.3, 0.7], { requiresGrad: true })
  const half = master.to('bfloat16')
  half
    .mul(iv.tensor([2, 4], { dtype: 'bfloat16' }))
    .sum()
    .backward()
  t.equal(master.grad!.dtype, 'float32', 'the float32 master weight gets a float32 gradient')
  t.same(master.grad!.toArray(), [2, 4])
})

t.test('safetensors store bfloat16 as BF16, bit for bit', async (t) => {
  const file = path.join(t.testdir({}), 'h.safetensors')
  const x = iv.randn([5, 7], { dtype: 'bfloat16' })
  saveFile(file, { x })
  const header = fs.readFileSync(file)
  t.match(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString(), /"dtype":"BF16"/)
  const back = loadFile(file).x
  t.equal(back.dtype, 'bfloat16')
  t.same(Array.from(back.data()), Array.from(x.data()))
})

t.test('bad input names the op and the dtype', async (t) => {
  const h = iv.ones([2, 2], { dtype: 'bfloat16' })
  t.throws(
    () => (native.unary as (...a: unknown[]) => unknown)('exp', describe(h), describe(h), NaN, NaN),
    /argument 'out': unary does not take bfloat16 tensors \(widen them to float32 first\)/,
    'a kernel without bfloat16 code refuses it when called directly',
  )
  t.throws(() => iv.ones([2], { dtype: 'bfloat16', device: 'cuda' }), /bfloat16 tensors live on the CPU only/)
  t.throws(() => iv.tensor(new Uint16Array(2) as never), /tensor: unsupported array type Uint16Array/)
  t.throws(() => iv.ones([2], { dtype: 'float16' as never }), /unknown dtype "float16" \(expected .*bfloat16/)
  t.ok(
    (native.bfloat16Kernels as string[]).includes('copy'),
    'the addon lists the kernels that read bfloat16 themselves',
  )
})

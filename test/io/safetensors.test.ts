import t from 'tap'
import * as fs from 'node:fs'
import rawFs = require('node:fs')
import * as path from 'node:path'
import { arange, randn, tensor, zeros } from '../../src'
import { Tensor } from '../../src/tensor/tensor'
import { deserialize, load, loadFile, readFile, saveFile, serialize } from '../../src/io/safetensors'

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'torch.safetensors')
const EXPECTED = JSON.parse(fs.readFileSync(`${FIXTURE}.json`, 'utf8')) as {
  metadata: Record<string, string>
  tensors: Record<string, { dtype: string; shape: number[]; values: (number | boolean | string)[] }>
}

/** A header + data image from a header object, with the length field as given (or the true one). */
function image(header: unknown, data = Buffer.alloc(0), lengthField?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header))
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(lengthField ?? BigInt(json.length))
  return Buffer.concat([len, json, data])
}

t.test('reads the file PyTorch wrote: every dtype, values and metadata', async (t) => {
  const { tensors, metadata } = readFile(FIXTURE)
  t.same(metadata, EXPECTED.metadata)
  t.same(Object.keys(tensors).sort(), Object.keys(EXPECTED.tensors).sort())
  const wantDtype: Record<string, string> = {
    F32: 'float32',
    F64: 'float64',
    I32: 'int32',
    U8: 'uint8',
    BOOL: 'bool',
    I64: 'int32',
    F16: 'float32',
    BF16: 'bfloat16',
  }
  for (const [name, exp] of Object.entries(EXPECTED.tensors)) {
    const x = tensors[name]
    t.same(x.shape, exp.shape, `${name} shape`)
    t.equal(x.dtype, wantDtype[exp.dtype], `${name} dtype`)
    const got = Array.from(x.data())
    const want = exp.values.map((v) =>
      typeof v === 'string' ? Number(v.replace('inf', 'Infinity')) : typeof v === 'boolean' ? Number(v) : v,
    )
    t.equal(got.length, want.length, `${name} length`)
    // Float32 values went through JSON as doubles; compare at float32 precision.
    const bad = want.findIndex(
      (w, i) => !(Object.is(got[i], w) || (Number.isNaN(w) && Number.isNaN(got[i])) || Math.fround(w) === got[i]),
    )
    t.equal(bad, -1, `${name} values (first mismatch at ${bad}: ${got[bad]} vs ${want[bad]})`)
  }
  t.ok(Object.is(tensors.half.data()[5], -0), 'F16 negative zero survives')
})

t.test('round trip keeps dtype, shape, values and metadata', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'rt.safetensors')
  const src: Record<string, Tensor> = {
    f32: randn([3, 4, 5]),
    f64: randn([7], { dtype: 'float64' }),
    i32: tensor(
      [
        [1, -2],
        [2147483647, -2147483648],
      ],
      { dtype: 'int32' },
    ),
    u8: tensor([0, 7, 255], { dtype: 'uint8' }),
    b: tensor([true, false, true]),
    scalar: tensor(2.5),
    empty: zeros([0, 4]),
    // A non-contiguous view is written in row-major order.
    transposed: arange(0, 6, 1, { dtype: 'float32' }).reshape([2, 3]).t(),
  }
  saveFile(file, src, { note: 'hello', n: '3' })
  const { tensors, metadata } = readFile(file)
  t.same(metadata, { note: 'hello', n: '3' })
  for (const [k, v] of Object.entries(src)) {
    t.equal(tensors[k].dtype, v.dtype, `${k} dtype`)
    t.same(tensors[k].shape, v.shape, `${k} shape`)
    t.same(Array.from(tensors[k].data()), Array.from(v.data()), `${k} values`)
  }
  t.same(Array.from(tensors.transposed.data()), [0, 3, 1, 4, 2, 5])
  const bytes = fs.readFileSync(file)
  t.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0, 'header padded to a multiple of 8')
  t.same(Array.from(load(serialize(src)).f32.data()), Array.from(src.f32.data()), 'serialize/load in memory')
  t.same(loadFile(file).u8.shape, [3])
})

t.test('writes fail clearly on bad arguments', async (t) => {
  const file = path.join(t.testdir({}), 'x.safetensors')
  t.throws(() => saveFile(file, { a: 3 as unknown as Tensor }), /saveFile: 'a' must be a Tensor, got number/)
  t.throws(() => saveFile(file, { __metadata__: zeros([1]) }), /'__metadata__' cannot be a tensor name/)
  t.throws(
    () => saveFile(file, { a: zeros([1]) }, { k: 1 as unknown as string }),
    /metadata value for 'k' must be a string/,
  )
  const gone = zeros([2])
  gone.dispose()
  t.throws(() => saveFile(file, { g: gone }), /saveFile \('g'\).*disposed/)
  t.notOk(fs.existsSync(file))
  t.same(fs.readdirSync(path.dirname(file)), [], 'no temporary file left behind')
})

t.test('corrupt and truncated files get errors naming the file and the problem', async (t) => {
  const good = serialize({ a: randn([4, 4]), b: tensor([1, 2, 3], { dtype: 'int32' }) }, { k: 'v' })
  const headerLen = Number(good.readBigUInt64LE(0))
  const entry = (over: Record<string, unknown>) => ({ dtype: 'F32', shape: [2], data_offsets: [0, 8], ...over })
  const cases: [string, Buffer, RegExp][] = [
    [
      'too short for the length',
      good.subarray(0, 5),
      /<buffer>: truncated: 5 bytes, less than the 8-byte header length/,
    ],
    ['header cut off', good.subarray(0, 8 + headerLen - 3), /truncated: header length \d+ runs past the end/],
    [
      'data cut off',
      good.subarray(0, good.length - 4),
      /truncated: tensor '\w' ends at data byte \d+, past the \d+ bytes of data/,
    ],
    ['absurd header length', image({}, Buffer.alloc(0), 2n ** 60n), /bad header length/],
    ['not JSON', image('{"a": {"dtype": "F32",'), /the header is not valid JSON/],
    ['JSON array', image('[1, 2]'), /the header must be a JSON object/],
    ['unknown dtype', image({ a: entry({ dtype: 'C64' }) }, Buffer.alloc(8)), /tensor 'a' has unknown dtype "C64"/],
    [
      'size mismatch',
      image({ a: entry({ shape: [3] }) }, Buffer.alloc(8)),
      /tensor 'a' \(F32, shape \[3\]\) needs 12 bytes, but data_offsets \[0, 8\) hold 8/,
    ],
    [
      'bad offsets',
      image({ a: entry({ data_offsets: [8, 0] }) }, Buffer.alloc(8)),
      /tensor 'a' has invalid data_offsets \[8,0\]/,
    ],
    ['bad shape', image({ a: entry({ shape: [-2] }) }, Buffer.alloc(8)), /tensor 'a' has an invalid shape \[-2\]/],
    [
      'overlap',
      image({ a: entry({}), b: entry({ data_offsets: [4, 12] }) }, Buffer.alloc(12)),
      /tensors 'a' \[0, 8\) and 'b' \[4, 12\) overlap/,
    ],
    ['metadata not strings', image({ __metadata__: { k: 3 } }), /__metadata__ value for 'k' must be a string/],
    [
      'I64 out of int32 range',
      image({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, Buffer.from([0, 0, 0, 128, 0, 0, 0, 0])),
      /tensor 'a' \(I64\) holds 2147483648 at element 0, outside the int32 range/,
    ],
  ]
  for (const [what, bytes, re] of cases) t.throws(() => deserialize(bytes), re, what)
  const dir = t.testdir({})
  const file = path.join(dir, 'cut.safetensors')
  fs.writeFileSync(file, good.subarray(0, good.length - 1))
  t.throws(
    () => loadFile(file),
    new RegExp(`safetensors: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: truncated`),
    'the path is in the message',
  )
})

t.test('saveFile is atomic: a failure midway keeps the old file and leaves no temporary', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'model.safetensors')
  saveFile(file, { w: tensor([1, 2, 3]) })
  const before = fs.readFileSync(file)
  // Simulate the disk filling up after the header has been written. (The fs module object
  // itself is patched: the writer looks writeSync up on it at each call.)
  let writes = 0
  const realWrite = rawFs.writeSync
  t.teardown(() => {
    rawFs.writeSync = realWrite
  })
  rawFs.writeSync = ((...args: Parameters<typeof fs.writeSync>) => {
    if (++writes === 2) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
    return (realWrite as (...a: unknown[]) => number)(...args)
  }) as typeof fs.writeSync
  t.throws(() => saveFile(file, { w: randn([1000]), v: randn([10]) }), /ENOSPC/)
  rawFs.writeSync = realWrite
  t.ok(writes >= 2, 'the injected failure was reached')
  t.same(fs.readFileSync(file), before, 'the target keeps its old content')
  t.same(fs.readdirSync(dir), ['model.safetensors'], 'the temporary file was removed')
  t.same(Array.from(loadFile(file).w.data()), [1, 2, 3])
})

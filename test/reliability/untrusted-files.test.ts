// Issue #17, items 7 to 10: files are untrusted input. Paths may not leave their folder, sizes
// read from a file are checked against the file before anything is allocated, names are keys
// like any other, and every refusal names the file and the problem.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { gzipSync } from 'node:zlib'
import * as iv from '../../src'
import {
  cocoDetection,
  digits,
  fashionMnist,
  encodeSample,
  openDiskCache,
  parseIdx,
  readIdxFile,
  readShotList,
} from '../../src/data'
import { loadCheckpoint, readFile, saveCheckpoint, saveFile } from '../../src/io'

const DATA = path.join(__dirname, '..', '..', 'src', 'data')
const MiB = 2 ** 20

/** Runs `body` (CommonJS, with `data` = src/data) in a fresh process; it prints one JSON line. */
function child<T>(body: string): T {
  const code = `const data = require(${JSON.stringify(DATA)});\n${body}`
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { encoding: 'utf8', timeout: 120_000 })
  if (r.status !== 0) throw new Error(`child failed (${r.status ?? r.signal}): ${r.stderr.slice(-600)}`)
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T
}

/** An IDX header and values. */
function idx(shape: number[], values: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * shape.length)
  head[2] = 0x08
  head[3] = shape.length
  shape.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i))
  return Buffer.concat([head, values])
}

/** An encoded sample whose header claims `to` elements where it stored `from`, framing intact. */
function forgeLength(sample: Buffer, from: number, to: number): Buffer {
  const headLen = sample.readUInt32LE(0)
  const pad = (n: number) => (8 - (n % 8)) % 8
  const body = sample.subarray(8 + headLen + pad(8 + headLen))
  const head = Buffer.from(sample.toString('utf8', 8, 8 + headLen).replace(`"length":${from}`, `"length":${to}`))
  const prefix = Buffer.alloc(8)
  prefix.writeUInt32LE(head.length, 0)
  return Buffer.concat([prefix, head, Buffer.alloc(pad(8 + head.length)), body])
}

t.test('a COCO file_name may not leave the image folder (item 7)', async (t) => {
  const dir = t.testdir({ images: {}, 'secret.png': 'not for you' })
  const coco = (fileName: string) => {
    const file = path.join(dir, `${fileName.length}.json`)
    fs.writeFileSync(
      file,
      JSON.stringify({ images: [{ id: 1, file_name: fileName }], annotations: [], categories: [{ id: 1, name: 'a' }] }),
    )
    return file
  }
  for (const name of ['../secret.png', 'sub/../../secret.png', '/etc/hostname']) {
    const file = coco(name)
    t.throws(
      () => cocoDetection(file, path.join(dir, 'images')),
      new RegExp(
        `cocoDetection: '${file}': images\\[0\\]\\.file_name '${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}' leaves the image folder`,
      ),
      name,
    )
  }
  t.doesNotThrow(
    () => cocoDetection(coco('sub/./ok.png'), path.join(dir, 'images')),
    'a path inside the folder is fine',
  )
})

t.test('a gzipped IDX file is inflated no further than its header promises (item 8)', async (t) => {
  const dir = t.testdir({})
  // The header promises 10 images of 28x28 (7,840 bytes); the stream holds 200 MiB.
  const file = path.join(dir, 'train-images-idx3-ubyte.gz')
  fs.writeFileSync(file, gzipSync(idx([10, 28, 28], new Uint8Array(200 * MiB))))
  t.ok(fs.statSync(file).size < MiB, `a ${(fs.statSync(file).size / 1024).toFixed(0)} KiB file`)
  const out = child<{ message: string; external: number }>(`
    const before = process.memoryUsage().arrayBuffers
    let message = ''
    try { data.readIdxFile(${JSON.stringify(dir)}, 'train-images-idx3-ubyte') } catch (e) { message = e.message }
    console.log(JSON.stringify({ message, external: process.memoryUsage().arrayBuffers - before }))
  `)
  t.match(out.message, new RegExp(`readIdxFile: ${file} inflates to more than the 7856 bytes its header promises`))
  t.ok(out.external < 2 * fs.statSync(file).size + MiB, `${(out.external / MiB).toFixed(2)} MiB allocated, not 200`)
})

t.test('the disk cache checks stored lengths and offsets against its files (item 8)', async (t) => {
  const dir = t.testdir({})
  // A 6.6 KB sample whose header claims a 400M-element image.
  const forged = forgeLength(
    encodeSample({
      index: 0,
      image: { data: new Float32Array(1600), channels: 1, height: 40, width: 40 },
    } as iv.data.Sample),
    1600,
    400_000_000,
  )
  fs.writeFileSync(path.join(dir, 'samples.bin'), forged)
  const index = (offsets: number[]) =>
    fs.writeFileSync(
      path.join(dir, 'index.json'),
      JSON.stringify({ version: 1, fingerprint: 'x', info: { name: 'x' }, offsets }),
    )
  index([0, forged.length])
  const out = child<{ message: string; external: number }>(`
    const before = process.memoryUsage().arrayBuffers
    let message = ''
    try { data.openDiskCache(${JSON.stringify(dir)}).get(0) } catch (e) { message = e.message }
    console.log(JSON.stringify({ message, external: process.memoryUsage().arrayBuffers - before }))
  `)
  t.match(
    out.message,
    /decodeSample: '.*samples\.bin' sample 0: a Float32Array of 400000000 elements at offset 0 runs past the \d+ bytes of the sample/,
  )
  t.ok(
    out.external < 2 * forged.length + MiB,
    `${(out.external / MiB).toFixed(2)} MiB allocated for a ${(forged.length / 1024).toFixed(1)} KiB file`,
  )
  index([0, 3e9])
  const far = child<{ message: string; external: number }>(`
    const before = process.memoryUsage().arrayBuffers
    let message = ''
    try { data.openDiskCache(${JSON.stringify(dir)}).get(0) } catch (e) { message = e.message }
    console.log(JSON.stringify({ message, external: process.memoryUsage().arrayBuffers - before }))
  `)
  t.match(
    far.message,
    /openDiskCache: '.*index\.json' describes 3000000000 bytes of samples from 0, but '.*samples\.bin' holds \d+/,
  )
  t.ok(far.external < MiB, `${(far.external / MiB).toFixed(2)} MiB allocated, not 3 GB`)
  index([0, 10, 5, forged.length])
  t.throws(() => openDiskCache(dir), /a bad offset 5 at 2/)
})

t.test('safetensors and checkpoint names are keys like any other (item 9)', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'proto.safetensors')
  const tensors: Record<string, iv.Tensor> = Object.create(null)
  tensors.__proto__ = iv.tensor([1, 2])
  tensors['constructor'] = iv.tensor([3])
  tensors.plain = iv.tensor([4])
  saveFile(file, tensors, { note: 'x' })
  const back = readFile(file)
  t.same(
    Object.keys(back.tensors).sort(),
    ['__proto__', 'constructor', 'plain'],
    "no tensor vanishes, '__proto__' included",
  )
  t.same(Array.from(back.tensors.__proto__.data()), [1, 2])
  t.equal(back.metadata.constructor, undefined, "metadata without 'constructor' does not inherit one")
  t.equal(back.metadata.toString, undefined)
  const ckpt = path.join(dir, 'ckpt.safetensors')
  const extra = JSON.parse('{"__proto__": {"polluted": true}, "constructor": "kept"}') as Record<string, unknown>
  saveCheckpoint(ckpt, { model: { w: iv.tensor([1]) }, step: 1, extra })
  const loaded = loadCheckpoint(ckpt).extra as Record<string, unknown>
  t.ok(Object.hasOwn(loaded, '__proto__'), "an extra key '__proto__' comes back as a key")
  t.same(Object.getOwnPropertyDescriptor(loaded, '__proto__')?.value, { polluted: true })
  t.equal(loaded.constructor, 'kept')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'nothing was polluted')
})

t.test('corrupt data files are refused with the file and the problem (item 10)', async (t) => {
  const dir = t.testdir({ folder: { 'train-images-idx3-ubyte': {} }, fashion: {} })
  // A header that declares three dimensions and stops after one.
  t.throws(
    () => parseIdx(Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 2]), 'short.idx'),
    /parseIdx: short.idx is truncated: its header declares 3 dimensions \(16 bytes\), but the file has 8 bytes/,
  )
  fs.writeFileSync(path.join(dir, 'labels-idx1-ubyte.gz'), 'this is not gzip at all')
  t.throws(
    () => readIdxFile(dir, 'labels-idx1-ubyte'),
    /readIdxFile: .*labels-idx1-ubyte\.gz is not a valid gzip file \(incorrect header check\)/,
  )
  fs.writeFileSync(path.join(dir, 'cut-idx1-ubyte.gz'), gzipSync(idx([100], new Uint8Array(100))).subarray(0, 30))
  t.throws(
    () => readIdxFile(dir, 'cut-idx1-ubyte'),
    /readIdxFile: .*cut-idx1-ubyte\.gz is not a valid gzip file \(unexpected end of file\)/,
  )
  t.throws(
    () => readIdxFile(path.join(dir, 'folder'), 'train-images-idx3-ubyte'),
    /readIdxFile: cannot read '.*train-images-idx3-ubyte': it is a directory, not a file \(EISDIR\)/,
  )
  // Fashion-MNIST files whose labels run past the ten classes.
  const fashion = path.join(dir, 'fashion')
  fs.writeFileSync(path.join(fashion, 't10k-images-idx3-ubyte'), idx([2, 2, 2], new Uint8Array(8)))
  fs.writeFileSync(path.join(fashion, 't10k-labels-idx1-ubyte'), idx([2], Uint8Array.from([3, 12])))
  t.throws(
    () => fashionMnist({ split: 'test', root: fashion }),
    /fashionMnist: .*t10k-labels-idx1-ubyte has label 12 at index 1; Fashion-MNIST labels are 0 to 9/,
  )
  const csv = path.join(dir, 'digits.csv')
  fs.writeFileSync(csv, `${Array(64).fill(0).join(',')},12\n`)
  t.throws(() => digits({ path: csv }), /digits: .*digits\.csv row 1 is not 64 pixels in 0\.\.16 and a label in 0\.\.9/)
  const list = path.join(dir, 'list.txt')
  fs.writeFileSync(
    list,
    '# intern-vision percentage-shot list v1\n# dataset=d split=train percent=1O seed=0 mode=class total=10 selected=1\n3\n',
  )
  t.throws(() => readShotList(list), /parseShotList: .*list\.txt header has percent=1O, not in \(0, 100\]/)
  fs.writeFileSync(
    list,
    '# intern-vision percentage-shot list v1\n# dataset=%E0%A4%A split=train percent=10 seed=0 mode=class total=10 selected=1\n3\n',
  )
  t.throws(() => readShotList(list), /parseShotList: .*list\.txt header value of 'dataset' is not URI-encoded text/)
  t.throws(
    () => readShotList(path.join(dir, 'folder')),
    /readShotList: cannot read '.*folder': it is a directory, not a file \(EISDIR\)/,
  )
})

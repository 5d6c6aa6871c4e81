// Corrupts every file reader's input: random truncations and byte flips of a valid file, each
// read back by its reader. Run in a child process by fuzz.test.ts, so that a crash kills only
// this process. A case passes when the reader returns (the corruption left a valid file) or
// throws an Error that names the file, and allocates at most twice the file's size (or twice
// what the intact file decodes to, for compressed formats) in ArrayBuffers and engine tensors.
// Prints one JSON line with the counts and the first failures.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { gzipSync } from 'node:zlib'
import * as iv from '../../src'
import { encodeSample, openDiskCache } from '../../src/data/cache'
import { cocoDetection, segmentationFolder } from '../../src/data/formats/files'
import { readIdxFile } from '../../src/data/formats/idx'
import { encodeGreyPng, encodePng } from '../../src/data/formats/image-io'
import { formatShotList, readShotList } from '../../src/data/sampling'
import type { Sample } from '../../src/data/types'
import { readFile, saveFile } from '../../src/io/safetensors'

const CASES_PER_READER = Number(process.argv[2] ?? 150)
const TIME_LIMIT_MS = Number(process.argv[3] ?? 90_000)
/** Room for what any read allocates regardless of size (a header buffer, a stat). */
const SLACK = 64 * 1024

let seed = 2024
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32
const int = (n: number) => Math.floor(rnd() * n)

interface Reader {
  name: string
  /** The file corrupted in each case. */
  file: string
  /** What the intact file decodes to, for compressed formats: the allocation bound's base. */
  decodedBytes: number
  read: () => unknown
}

function mutate(bytes: Buffer): Buffer {
  const kind = int(3)
  let out = Buffer.from(bytes)
  if (kind !== 1) out = out.subarray(0, int(out.length))
  if (kind !== 0 && out.length > 0) {
    // Headers hold the lengths: flips land in the first 64 bytes half of the time.
    for (let k = 1 + int(8); k > 0; k--) out[rnd() < 0.5 ? int(Math.min(64, out.length)) : int(out.length)] = int(256)
  }
  return out
}

const external = () => process.memoryUsage().arrayBuffers + iv.memoryStats().bytes

async function setup(dir: string): Promise<Reader[]> {
  const readers: Reader[] = []
  // IDX, raw and gzipped.
  const values = Uint8Array.from({ length: 4 * 6 * 6 }, (_, i) => (i * 37) % 256)
  const head = Buffer.from([0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 6, 0, 0, 0, 6])
  const idx = Buffer.concat([head, values])
  fs.mkdirSync(path.join(dir, 'idx'))
  fs.writeFileSync(path.join(dir, 'idx', 'images-idx3-ubyte'), idx)
  readers.push({
    name: 'idx',
    file: path.join(dir, 'idx', 'images-idx3-ubyte'),
    decodedBytes: idx.length,
    read: () => readIdxFile(path.join(dir, 'idx'), 'images-idx3-ubyte'),
  })
  fs.mkdirSync(path.join(dir, 'idxgz'))
  fs.writeFileSync(path.join(dir, 'idxgz', 'images-idx3-ubyte.gz'), gzipSync(idx))
  readers.push({
    name: 'idx.gz',
    file: path.join(dir, 'idxgz', 'images-idx3-ubyte.gz'),
    decodedBytes: idx.length,
    read: () => readIdxFile(path.join(dir, 'idxgz'), 'images-idx3-ubyte'),
  })

  // The disk cache: two samples, then its index.
  const cache = path.join(dir, 'cache')
  fs.mkdirSync(cache)
  const samples = [0, 1].map((i) =>
    encodeSample({
      index: i,
      image: {
        data: Float32Array.from({ length: 3 * 8 * 8 }, (_, p) => (p % 7) / 7),
        channels: 3,
        height: 8,
        width: 8,
      },
      labels: { class: i },
      segmentation: Uint8Array.from({ length: 64 }, (_, p) => p % 3),
    } as Sample),
  )
  fs.writeFileSync(path.join(cache, 'samples.bin'), Buffer.concat(samples))
  const offsets = [0, samples[0].length, samples[0].length + samples[1].length]
  fs.writeFileSync(
    path.join(cache, 'index.json'),
    JSON.stringify({
      version: 1,
      fingerprint: 'fuzz',
      info: { name: 'fuzz', split: 'train', tasks: ['classification'], labelSpaces: {} },
      offsets,
    }),
  )
  const readCache = () => {
    const ds = openDiskCache(cache)
    for (let i = 0; i < ds.length; i++) ds.get(i)
  }
  readers.push({ name: 'cache samples', file: path.join(cache, 'samples.bin'), decodedBytes: 0, read: readCache })
  readers.push({ name: 'cache index', file: path.join(cache, 'index.json'), decodedBytes: 0, read: readCache })

  // COCO JSON: the annotation file is the untrusted input.
  const coco = path.join(dir, 'coco')
  fs.mkdirSync(path.join(coco, 'images'), { recursive: true })
  const annotations = {
    images: [
      { id: 1, file_name: 'a.png', width: 8, height: 8 },
      { id: 2, file_name: 'sub/b.png' },
    ],
    annotations: [
      { image_id: 1, bbox: [1, 1, 4, 3], category_id: 7, segmentation: [[1, 1, 5, 1, 5, 4]] },
      { image_id: 1, bbox: [0, 0, 2, 2], category_id: 9, iscrowd: 1 },
      { image_id: 2, bbox: [2, 2, 1, 1], category_id: 7, visibility: 0.5 },
    ],
    categories: [
      { id: 7, name: 'cat', supercategory: 'animal' },
      { id: 9, name: 'dog', supercategory: 'animal' },
    ],
  }
  fs.writeFileSync(path.join(coco, 'ann.json'), JSON.stringify(annotations))
  readers.push({
    name: 'coco json',
    file: path.join(coco, 'ann.json'),
    decodedBytes: 0,
    read: () => {
      const ds = cocoDetection(path.join(coco, 'ann.json'), path.join(coco, 'images'))
      for (let i = 0; i < ds.length; i++) ds.annotation!(i)
    },
  })

  // A PNG class mask beside its image.
  const seg = path.join(dir, 'seg')
  fs.mkdirSync(path.join(seg, 'images'), { recursive: true })
  fs.mkdirSync(path.join(seg, 'masks'))
  await encodePng(
    { data: new Float32Array(3 * 16 * 16).fill(0.5), channels: 3, height: 16, width: 16 },
    path.join(seg, 'images', 'x.png'),
  )
  await encodeGreyPng(
    Uint8Array.from({ length: 256 }, (_, p) => [0, 1, 255][p % 3]),
    16,
    16,
    path.join(seg, 'masks', 'x.png'),
  )
  readers.push({
    name: 'png mask',
    file: path.join(seg, 'masks', 'x.png'),
    // The decoded mask and the decoded image (RGB, then CHW float32).
    decodedBytes: 256 + 3 * 256 + 3 * 256 * 4,
    read: () => segmentationFolder(path.join(seg, 'images'), path.join(seg, 'masks'), { classes: ['a', 'b'] }).get(0),
  })

  // safetensors with every dtype it reads.
  fs.mkdirSync(path.join(dir, 'st'))
  const st = path.join(dir, 'st', 'model.safetensors')
  saveFile(
    st,
    {
      w: iv.randn([4, 5]),
      d: iv.randn([3], { dtype: 'float64' }),
      i: iv.tensor([1, -2, 3], { dtype: 'int32' }),
      u: iv.tensor([1, 2], { dtype: 'uint8' }),
      b: iv.tensor([true, false]),
    },
    { note: 'fuzz', epoch: '3' },
  )
  readers.push({
    name: 'safetensors',
    file: st,
    decodedBytes: 0,
    read: () => {
      for (const t of Object.values(readFile(st).tensors)) t.dispose()
    },
  })

  // A percentage-shot list.
  const list = path.join(dir, 'shots.txt')
  fs.writeFileSync(
    list,
    formatShotList({
      dataset: 'fuzz set',
      split: 'train',
      percent: 10,
      seed: 0,
      mode: 'class',
      labelSpace: 'class',
      total: 50,
      indices: Int32Array.from([1, 4, 9, 17, 33]),
    }),
  )
  readers.push({ name: 'shot list', file: list, decodedBytes: 0, read: () => readShotList(list) })
  return readers
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-fuzz-'))
  const started = Date.now()
  const counts: Record<string, { cases: number; refused: number; accepted: number }> = {}
  const failures: string[] = []
  let failureCount = 0
  try {
    const readers = await setup(dir)
    // Each reader once on its intact file: it must accept it (and warms the code up).
    for (const r of readers) await r.read()
    const rssStart = process.resourceUsage().maxRSS
    for (const r of readers) {
      const original = fs.readFileSync(r.file)
      const c = (counts[r.name] = { cases: 0, refused: 0, accepted: 0 })
      for (let k = 0; k < CASES_PER_READER && Date.now() - started < TIME_LIMIT_MS; k++) {
        const bytes = mutate(original)
        fs.writeFileSync(r.file, bytes)
        const bound = 2 * Math.max(bytes.length, r.decodedBytes) + SLACK
        const before = external()
        let error: unknown = null
        try {
          await r.read()
        } catch (e) {
          error = e
        }
        const allocated = external() - before
        c.cases++
        const problems: string[] = []
        if (error === null) c.accepted++
        else {
          c.refused++
          if (!(error instanceof Error)) problems.push(`threw a non-Error ${String(error)}`)
          else if (
            !error.message.includes(r.file) &&
            !(r.name.startsWith('cache') && error.message.includes(path.dirname(r.file)))
          )
            problems.push(`an error that does not name the file: ${error.message.slice(0, 300)}`)
        }
        if (allocated > bound)
          problems.push(`allocated ${allocated} bytes for a ${bytes.length}-byte file (bound ${bound})`)
        if (problems.length) {
          failureCount++
          if (failures.length < 20) failures.push(`${r.name} case ${k} (${bytes.length} bytes): ${problems.join('; ')}`)
        }
      }
      fs.writeFileSync(r.file, original)
    }
    const rssGrowth = (process.resourceUsage().maxRSS - rssStart) * 1024
    console.log(JSON.stringify({ counts, failures, failureCount, rssGrowth, seconds: (Date.now() - started) / 1000 }))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

void main()

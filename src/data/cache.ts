// A disk cache for any dataset: samples are generated (or decoded) once, written to one binary
// file with a JSON index, and read back by offset. Worth it when decoding costs more than a
// read, or to freeze a generated set for others to use byte for byte.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { Dataset, DatasetInfo, ImageSample, Sample } from './types'

const TYPED = {
  Float32Array,
  Int32Array,
  Uint8Array,
  Int16Array,
  Uint16Array,
} as const
type TypedName = keyof typeof TYPED
type Typed = InstanceType<(typeof TYPED)[TypedName]>

interface CacheIndex {
  version: 1
  fingerprint: string
  info: Omit<DatasetInfo, 'labelSpaces' | 'taxonomy'> & { labelSpaces: Record<string, string[]> }
  offsets: number[]
}

/** Encodes a sample as a JSON header (with typed arrays replaced by references) plus bytes. */
export function encodeSample(sample: Sample): Buffer {
  const chunks: Buffer[] = []
  let size = 0
  const header = JSON.stringify(sample, (_key, value: unknown) => {
    if (ArrayBuffer.isView(value)) {
      const name = value.constructor.name as TypedName
      if (!(name in TYPED)) throw new TypeError(`encodeSample: cannot store a ${name}`)
      const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
      const pad = (8 - (size % 8)) % 8
      if (pad) chunks.push(Buffer.alloc(pad))
      size += pad
      const ref = { $typed: name, offset: size, length: (value as Typed).length }
      chunks.push(bytes)
      size += bytes.length
      return ref
    }
    return value
  })
  const head = Buffer.from(header, 'utf8')
  const prefix = Buffer.alloc(8)
  prefix.writeUInt32LE(head.length, 0)
  const headPad = Buffer.alloc((8 - ((8 + head.length) % 8)) % 8)
  return Buffer.concat([prefix, head, headPad, ...chunks])
}

export function decodeSample(buf: Buffer): Sample {
  const headLen = buf.readUInt32LE(0)
  const headEnd = 8 + headLen
  const body = headEnd + ((8 - (headEnd % 8)) % 8)
  return JSON.parse(buf.toString('utf8', 8, headEnd), (_key, value: unknown) => {
    if (value && typeof value === 'object' && '$typed' in value) {
      const ref = value as { $typed: TypedName; offset: number; length: number }
      const Ctor = TYPED[ref.$typed]
      const bytes = buf.subarray(body + ref.offset, body + ref.offset + ref.length * Ctor.BYTES_PER_ELEMENT)
      // Copy so the typed array owns an aligned buffer that can be transferred.
      const out = new Ctor(ref.length)
      new Uint8Array(out.buffer).set(bytes)
      return out
    }
    return value
  }) as Sample
}

/**
 * Writes every sample of `dataset` under `dir` unless a cache with the same fingerprint is
 * there already, then returns the cached dataset. The fingerprint defaults to the dataset's
 * recipe, so changing generator options rebuilds the cache.
 */
export async function cacheToDisk(
  dataset: Dataset<ImageSample>,
  dir: string,
  options: { fingerprint?: string } = {},
): Promise<Dataset<Sample>> {
  const fingerprint = options.fingerprint ?? JSON.stringify(dataset.recipe ?? { name: dataset.info.name, length: dataset.length })
  const indexPath = join(dir, 'index.json')
  if (existsSync(indexPath)) {
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as CacheIndex
    if (index.fingerprint === fingerprint) return openDiskCache(dir, dataset.info)
  }
  mkdirSync(dir, { recursive: true })
  const tmp = join(dir, 'samples.bin.partial')
  const fd = openSync(tmp, 'w')
  const offsets = [0]
  try {
    for (let i = 0; i < dataset.length; i++) {
      const bytes = encodeSample((await dataset.get(i)) as Sample)
      writeSync(fd, bytes)
      offsets.push(offsets[offsets.length - 1] + bytes.length)
    }
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, join(dir, 'samples.bin'))
  const { labelSpaces, taxonomy: _taxonomy, ...rest } = dataset.info
  const index: CacheIndex = {
    version: 1,
    fingerprint,
    info: { ...rest, labelSpaces: Object.fromEntries(Object.entries(labelSpaces).map(([k, v]) => [k, [...v.classes]])) },
    offsets,
  }
  writeFileSync(indexPath, JSON.stringify(index))
  return openDiskCache(dir, dataset.info)
}

/** Opens a cache written by cacheToDisk. Pass the source's info to keep its taxonomy. */
export function openDiskCache(dir: string, info?: DatasetInfo): Dataset<Sample> {
  const indexPath = join(dir, 'index.json')
  if (!existsSync(indexPath)) throw new Error(`openDiskCache: '${dir}' holds no index.json (write one with cacheToDisk)`)
  const index = JSON.parse(readFileSync(indexPath, 'utf8')) as CacheIndex
  if (index.version !== 1) throw new Error(`openDiskCache: '${indexPath}' has version ${index.version}, expected 1`)
  const path = join(dir, 'samples.bin')
  let fd: number | undefined
  const length = index.offsets.length - 1
  return {
    length,
    info: info ?? ({ ...index.info, labelSpaces: {} } as DatasetInfo),
    recipe: { module: __filename, exportName: 'openDiskCache', args: [dir] },
    get(i: number): Sample {
      if (!Number.isInteger(i) || i < 0 || i >= length) {
        throw new RangeError(`openDiskCache.get: index ${i} is out of range for a cache of length ${length}`)
      }
      fd ??= openSync(path, 'r')
      const start = index.offsets[i]
      const buf = Buffer.alloc(index.offsets[i + 1] - start)
      readSync(fd, buf, 0, buf.length, start)
      return decodeSample(buf)
    },
  }
}


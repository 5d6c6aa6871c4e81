// A disk cache for any dataset: samples are generated (or decoded) once, written to one binary
// file with a JSON index, and read back by offset. Worth it when decoding costs more than a
// read, or to freeze a generated set for others to use byte for byte. A cache is a file like
// any other: every length and offset in it is checked against the bytes there are before
// anything is allocated from it, and every error names the file.

import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { atomicWrite } from '../io/atomic'
import { fileError } from '../io/file-errors'
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

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

/** Decodes one encoded sample; `source` names it in errors (e.g. the file and sample index). */
export function decodeSample(buf: Buffer, source = 'buffer'): Sample {
  const fail = (problem: string): never => {
    throw new Error(`decodeSample: ${source}: ${problem}`)
  }
  if (buf.length < 8) fail(`truncated: ${buf.length} bytes, less than the 8-byte prefix`)
  const headLen = buf.readUInt32LE(0)
  const headEnd = 8 + headLen
  if (headEnd > buf.length) fail(`the header length ${headLen} runs past the ${buf.length} bytes of the sample`)
  const body = headEnd + ((8 - (headEnd % 8)) % 8)
  try {
    return JSON.parse(buf.toString('utf8', 8, headEnd), (_key, value: unknown) => {
      if (value && typeof value === 'object' && Object.hasOwn(value, '$typed')) {
        const ref = value as { $typed: unknown; offset: unknown; length: unknown }
        if (typeof ref.$typed !== 'string' || !Object.hasOwn(TYPED, ref.$typed))
          fail(`unknown array type ${JSON.stringify(ref.$typed)}`)
        const Ctor = TYPED[ref.$typed as TypedName]
        if (!isCount(ref.offset) || !isCount(ref.length))
          fail(`bad array offset ${JSON.stringify(ref.offset)} or length ${JSON.stringify(ref.length)}`)
        const begin = body + (ref.offset as number)
        const end = begin + (ref.length as number) * Ctor.BYTES_PER_ELEMENT
        if (end > buf.length)
          fail(
            `a ${ref.$typed} of ${ref.length} elements at offset ${ref.offset} runs past the ${buf.length} bytes of the sample`,
          )
        // Copy so the typed array owns an aligned buffer that can be transferred.
        const out = new Ctor(ref.length as number)
        new Uint8Array(out.buffer).set(buf.subarray(begin, end))
        return out
      }
      return value
    }) as Sample
  } catch (e) {
    if ((e as Error).message.startsWith('decodeSample:')) throw e
    return fail(`the header is not valid JSON (${(e as Error).message})`)
  }
}

function readIndex(indexPath: string): CacheIndex {
  let text: string
  try {
    text = readFileSync(indexPath, 'utf8')
  } catch (e) {
    throw fileError('openDiskCache', 'read', indexPath, e)
  }
  let index: CacheIndex
  try {
    index = JSON.parse(text) as CacheIndex
  } catch (e) {
    throw new Error(`openDiskCache: '${indexPath}' is not valid JSON (${(e as Error).message})`)
  }
  if (index === null || typeof index !== 'object')
    throw new Error(`openDiskCache: '${indexPath}' is not a cache index (a JSON object)`)
  return index
}

/**
 * Writes every sample of `dataset` under `dir` unless a cache with the same fingerprint is
 * there already, then returns the cached dataset. The fingerprint defaults to the dataset's
 * recipe, so changing generator options rebuilds the cache (as does an unreadable index).
 */
export async function cacheToDisk(
  dataset: Dataset<ImageSample>,
  dir: string,
  options: { fingerprint?: string } = {},
): Promise<Dataset<Sample>> {
  const fingerprint =
    options.fingerprint ?? JSON.stringify(dataset.recipe ?? { name: dataset.info.name, length: dataset.length })
  const indexPath = join(dir, 'index.json')
  if (existsSync(indexPath)) {
    let cached: CacheIndex | null = null
    try {
      cached = readIndex(indexPath)
    } catch {
      // Unreadable: rebuilt below.
    }
    if (cached?.fingerprint === fingerprint) return openDiskCache(dir, dataset.info)
  }
  mkdirSync(dir, { recursive: true })
  const tmp = join(dir, 'samples.bin.partial')
  const offsets = [0]
  const fd = openSync(tmp, 'w')
  try {
    for (let i = 0; i < dataset.length; i++) {
      const bytes = encodeSample((await dataset.get(i)) as Sample)
      try {
        writeSync(fd, bytes)
      } catch (e) {
        throw fileError('cacheToDisk', 'write', tmp, e)
      }
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
    info: {
      ...rest,
      labelSpaces: Object.fromEntries(Object.entries(labelSpaces).map(([k, v]) => [k, [...v.classes]])),
    },
    offsets,
  }
  // The index is written last and atomically: a cache with an index is a whole cache.
  atomicWrite(indexPath, (write) => write(Buffer.from(JSON.stringify(index))))
  return openDiskCache(dir, dataset.info)
}

/** Opens a cache written by cacheToDisk. Pass the source's info to keep its taxonomy. */
export function openDiskCache(dir: string, info?: DatasetInfo): Dataset<Sample> {
  const fn = 'openDiskCache'
  const indexPath = join(dir, 'index.json')
  if (!existsSync(indexPath)) throw new Error(`${fn}: '${dir}' holds no index.json (write one with cacheToDisk)`)
  const index = readIndex(indexPath)
  if (index.version !== 1) throw new Error(`${fn}: '${indexPath}' has version ${index.version}, expected 1`)
  const path = join(dir, 'samples.bin')
  let size: number
  try {
    size = statSync(path).size
  } catch (e) {
    throw fileError(fn, 'read', path, e)
  }
  // Every sample's bytes must lie inside samples.bin, in order, before any is read.
  const { offsets } = index
  const bad =
    !Array.isArray(offsets) || offsets.length === 0
      ? 0
      : offsets.findIndex((o, i) => !isCount(o) || o < (i ? offsets[i - 1] : 0))
  if (bad >= 0) {
    throw new Error(
      `${fn}: '${indexPath}' has ${Array.isArray(offsets) ? `a bad offset ${JSON.stringify(offsets[bad])} at ${bad}` : 'no offsets'} (offsets must start at 0 and never decrease)`,
    )
  }
  if (offsets[0] !== 0 || offsets[offsets.length - 1] !== size) {
    throw new Error(
      `${fn}: '${indexPath}' describes ${offsets[offsets.length - 1]} bytes of samples from ${offsets[0]}, but '${path}' holds ${size}: the cache is incomplete or corrupt (delete '${dir}' to rebuild it)`,
    )
  }
  const length = offsets.length - 1
  let fd: number | undefined
  return {
    length,
    info: info ?? ({ ...index.info, labelSpaces: {} } as DatasetInfo),
    recipe: { module: __filename, exportName: 'openDiskCache', args: [dir] },
    get(i: number): Sample {
      if (!Number.isInteger(i) || i < 0 || i >= length) {
        throw new RangeError(`openDiskCache.get: index ${i} is out of range for a cache of length ${length}`)
      }
      const start = offsets[i]
      const buf = Buffer.alloc(offsets[i + 1] - start)
      let got: number
      try {
        fd ??= openSync(path, 'r')
        got = readSync(fd, buf, 0, buf.length, start)
      } catch (e) {
        throw fileError('openDiskCache.get', 'read', path, e)
      }
      if (got !== buf.length)
        throw new Error(`openDiskCache.get: '${path}' ended early at sample ${i} (was it changed after opening?)`)
      return decodeSample(buf, `'${path}' sample ${i}`)
    },
  }
}

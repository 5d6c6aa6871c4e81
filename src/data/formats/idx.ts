// IDX files (the MNIST family's format): a big-endian header with a type code and the dimension
// sizes, then the raw values. Fashion-MNIST ships them gzipped in Debian's dataset-fashion-mnist.

import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { constants as bufferConstants } from 'node:buffer'
import { constants as zlibConstants, gunzipSync } from 'node:zlib'
import { fileError } from '../../io/file-errors'

export interface IdxArray {
  shape: number[]
  data: Uint8Array
  /** The file it came from (or 'buffer'), for messages about its contents. */
  source: string
}

interface IdxHeader {
  shape: number[]
  /** Bytes before the values. */
  offset: number
  /** Values the shape promises. */
  count: number
}

/** Checks the header alone, against the bytes there are: nothing is allocated from it. */
function parseHeader(bytes: Uint8Array, source: string): IdxHeader {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`parseIdx: ${source} is not an IDX file (bad magic number)`)
  }
  if (bytes[2] !== 0x08) {
    throw new Error(
      `parseIdx: ${source} holds type code 0x${bytes[2].toString(16)}; only unsigned bytes (0x08) are supported`,
    )
  }
  const rank = bytes[3]
  const offset = 4 + 4 * rank
  if (bytes.length < offset) {
    throw new Error(
      `parseIdx: ${source} is truncated: its header declares ${rank} dimensions (${offset} bytes), but the file has ${bytes.length} bytes`,
    )
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const shape: number[] = []
  for (let i = 0; i < rank; i++) shape.push(view.getUint32(4 + 4 * i, false))
  const count = shape.reduce((a, b) => a * b, 1)
  if (!Number.isSafeInteger(count))
    throw new Error(`parseIdx: ${source} declares shape [${shape.join(', ')}], too many values to hold`)
  return { shape, offset, count }
}

export function parseIdx(bytes: Uint8Array, source = 'buffer'): IdxArray {
  const { shape, offset, count } = parseHeader(bytes, source)
  if (bytes.length - offset !== count) {
    throw new Error(
      `parseIdx: ${source} declares shape [${shape.join(', ')}] (${count} values) but holds ${bytes.length - offset}`,
    )
  }
  return { shape, data: bytes.subarray(offset), source }
}

/** The largest IDX header: 4 bytes and 255 dimensions of 4. */
const MAX_HEADER = 4 + 4 * 255

/**
 * Inflates a gzipped IDX file without trusting it: the header is read from a short prefix of
 * the stream first, then the stream is inflated capped at what that header promises, so a
 * small file cannot expand into memory it does not account for.
 */
function gunzipIdx(raw: Uint8Array, source: string): Uint8Array {
  const inflate = (input: Uint8Array, opts: { maxOutputLength?: number; partial?: boolean }): Buffer => {
    try {
      return gunzipSync(input, {
        maxOutputLength: opts.maxOutputLength,
        finishFlush: opts.partial ? zlibConstants.Z_SYNC_FLUSH : zlibConstants.Z_FINISH,
      })
    } catch (e) {
      const err = e as NodeJS.ErrnoException
      if (err.code === 'ERR_BUFFER_TOO_LARGE') throw err
      throw new Error(`readIdxFile: ${source} is not a valid gzip file (${err.message})`)
    }
  }
  // A prefix of k compressed bytes inflates to at most ~1032 k bytes (deflate's limit).
  let head: Uint8Array = new Uint8Array(0)
  for (let k = Math.min(raw.length, 256); ; k = Math.min(raw.length, 4 * k)) {
    head = inflate(raw.subarray(0, k), { partial: true })
    if ((head.length >= 4 && head.length >= 4 + 4 * head[3]) || head.length >= MAX_HEADER || k === raw.length) break
  }
  const { shape, offset, count } = parseHeader(head, source)
  const promised = offset + count
  if (promised > bufferConstants.MAX_LENGTH)
    throw new Error(`readIdxFile: ${source} declares shape [${shape.join(', ')}], more than one buffer can hold`)
  try {
    return inflate(raw, { maxOutputLength: Math.max(promised, 1) })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw e
    throw new Error(
      `readIdxFile: ${source} inflates to more than the ${promised} bytes its header promises (shape [${shape.join(', ')}])`,
    )
  }
}

/** Reads `name` or `name.gz` under root. */
export function readIdxFile(root: string, name: string): IdxArray {
  for (const candidate of [join(root, name), join(root, `${name}.gz`)]) {
    if (existsSync(candidate)) {
      let raw: Buffer
      try {
        raw = readFileSync(candidate)
      } catch (e) {
        throw fileError('readIdxFile', 'read', candidate, e)
      }
      const bytes = candidate.endsWith('.gz') ? gunzipIdx(raw, candidate) : raw
      return parseIdx(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), candidate)
    }
  }
  throw new Error(`readIdxFile: neither ${name} nor ${name}.gz exists under ${root}`)
}

export const FASHION_MNIST_ROOT = '/usr/share/datasets/fashion-mnist'

export const FASHION_MNIST_CLASS_COUNT = 10

export const FASHION_MNIST_FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const

export function fashionMnistAvailable(root = FASHION_MNIST_ROOT): boolean {
  const [images] = FASHION_MNIST_FILES.test
  return existsSync(join(root, images)) || existsSync(join(root, `${images}.gz`))
}

export function missingFashionMnist(fn: string, root: string): Error {
  return new Error(
    `${fn}: no Fashion-MNIST IDX files under ${root} (looked for train-images-idx3-ubyte[.gz] and ` +
      `t10k-images-idx3-ubyte[.gz]). Install the Debian package dataset-fashion-mnist ` +
      `(apt-get install dataset-fashion-mnist) or pass {root} pointing at the IDX files.`,
  )
}

const loaded = new Map<string, { images: IdxArray; labels: IdxArray }>()

/** Loads (once per process and root) one split's images [n, 28, 28] and labels [n]. */
export function loadFashionMnist(
  split: 'train' | 'test',
  root = FASHION_MNIST_ROOT,
  fn = 'loadFashionMnist',
): { images: IdxArray; labels: IdxArray } {
  const key = `${root}\0${split}`
  const hit = loaded.get(key)
  if (hit) return hit
  const [imageFile, labelFile] = FASHION_MNIST_FILES[split]
  if (!existsSync(join(root, imageFile)) && !existsSync(join(root, `${imageFile}.gz`))) {
    throw missingFashionMnist(fn, root)
  }
  const images = readIdxFile(root, imageFile)
  const labels = readIdxFile(root, labelFile)
  if (images.shape.length !== 3 || labels.shape.length !== 1 || images.shape[0] !== labels.shape[0]) {
    throw new Error(
      `${fn}: ${root} holds images [${images.shape.join(', ')}] and labels [${labels.shape.join(', ')}], ` +
        `expected [n, h, w] and [n]`,
    )
  }
  const bad = labels.data.findIndex((c) => c >= FASHION_MNIST_CLASS_COUNT)
  if (bad >= 0) {
    throw new Error(
      `${fn}: ${labels.source} has label ${labels.data[bad]} at index ${bad}; Fashion-MNIST labels are 0 to ${FASHION_MNIST_CLASS_COUNT - 1}`,
    )
  }
  const entry = { images, labels }
  loaded.set(key, entry)
  return entry
}

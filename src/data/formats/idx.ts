// IDX files (the MNIST family's format): a big-endian header with a type code and the dimension
// sizes, then the raw values. Fashion-MNIST ships them gzipped in Debian's dataset-fashion-mnist.

import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'

export interface IdxArray {
  shape: number[]
  data: Uint8Array
}

export function parseIdx(bytes: Uint8Array, source = 'buffer'): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`parseIdx: ${source} is not an IDX file (bad magic number)`)
  }
  if (bytes[2] !== 0x08) {
    throw new Error(
      `parseIdx: ${source} holds type code 0x${bytes[2].toString(16)}; only unsigned bytes (0x08) are supported`,
    )
  }
  const rank = bytes[3]
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const shape: number[] = []
  for (let i = 0; i < rank; i++) shape.push(view.getUint32(4 + 4 * i, false))
  const offset = 4 + 4 * rank
  const count = shape.reduce((a, b) => a * b, 1)
  if (bytes.length - offset !== count) {
    throw new Error(
      `parseIdx: ${source} declares shape [${shape.join(', ')}] (${count} values) but holds ${bytes.length - offset}`,
    )
  }
  return { shape, data: bytes.subarray(offset) }
}

/** Reads `name` or `name.gz` under root. */
export function readIdxFile(root: string, name: string): IdxArray {
  for (const candidate of [join(root, name), join(root, `${name}.gz`)]) {
    if (existsSync(candidate)) {
      const raw = readFileSync(candidate)
      const bytes = candidate.endsWith('.gz') ? gunzipSync(raw) : raw
      return parseIdx(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), candidate)
    }
  }
  throw new Error(`readIdxFile: neither ${name} nor ${name}.gz exists under ${root}`)
}

export const FASHION_MNIST_ROOT = '/usr/share/datasets/fashion-mnist'

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
  const entry = { images, labels }
  loaded.set(key, entry)
  return entry
}

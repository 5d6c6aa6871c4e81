// Real classification data that Debian ships: Fashion-MNIST (dataset-fashion-mnist) and
// scikit-learn's 8x8 digits (python3-sklearn). Both load into memory once per process.

import { existsSync, readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { fileError } from '../../io/file-errors'
import { LabelSpace, Taxonomy } from '../labels'
import {
  checkIndex,
  type Annotation,
  type DatasetCard,
  type DatasetInfo,
  type Recipe,
  type Sample,
  type SyncDataset,
} from '../types'
import { FASHION_MNIST_ROOT, loadFashionMnist } from './idx'

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]
/** A coarse level over the ten classes, to exercise label hierarchies on real data. */
export const FASHION_MNIST_GROUPS: Record<string, string[]> = {
  tops: ['T-shirt/top', 'Pullover', 'Coat', 'Shirt'],
  'bottoms and dresses': ['Trouser', 'Dress'],
  footwear: ['Sandal', 'Sneaker', 'Ankle boot'],
  accessories: ['Bag'],
}

export const FASHION_MNIST_CARD: DatasetCard = {
  name: 'fashion-mnist',
  description: '28x28 greyscale photos of Zalando articles in 10 classes (and 4 coarse groups).',
  tasks: ['classification'],
  sizes: { train: 60000, test: 10000 },
  license: 'MIT',
  provenance: 'Xiao, Rasul and Vollgraf (2017), read from the IDX files of the Debian package dataset-fashion-mnist.',
  citation: 'arXiv:1708.07747',
}

let fashionLabels: { taxonomy: Taxonomy; cls: LabelSpace; group: LabelSpace; groupOf: Int32Array } | undefined

function fashionLabelSystem(): NonNullable<typeof fashionLabels> {
  if (fashionLabels) return fashionLabels
  const taxonomy = new Taxonomy('fashion-mnist')
  const groups = Object.keys(FASHION_MNIST_GROUPS)
  for (const g of groups) {
    taxonomy.add(g)
    for (const c of FASHION_MNIST_GROUPS[g]) taxonomy.add(c, { parent: g })
  }
  const cls = taxonomy.labelSpace('class', FASHION_MNIST_CLASSES)
  const group = taxonomy.labelSpace('group', groups)
  fashionLabels = { taxonomy, cls, group, groupOf: cls.coarsen(group) }
  return fashionLabels
}

export interface FashionMnistOptions {
  split?: 'train' | 'test'
  root?: string
}

export function fashionMnist(options: FashionMnistOptions = {}): SyncDataset<Sample> {
  const split = options.split ?? 'train'
  if (split !== 'train' && split !== 'test') {
    throw new RangeError(
      `fashionMnist: split must be 'train' or 'test' (Fashion-MNIST has no val split), got '${split}'`,
    )
  }
  const root = options.root ?? FASHION_MNIST_ROOT
  const { images, labels } = loadFashionMnist(split, root, 'fashionMnist')
  const [n, H, W] = images.shape
  const L = fashionLabelSystem()
  const info: DatasetInfo = {
    name: 'fashion-mnist',
    split,
    tasks: ['classification'],
    labelSpaces: { class: L.cls, group: L.group },
    taxonomy: L.taxonomy,
    card: FASHION_MNIST_CARD,
  }
  const recipe: Recipe = { module: __filename, exportName: 'fashionMnist', args: [options] }
  const annotation = (i: number): Annotation => {
    checkIndex('fashionMnist', i, n)
    const c = labels.data[i]
    return { index: i, labels: { class: c, group: L.groupOf[c] } }
  }
  return {
    length: n,
    info,
    recipe,
    annotation,
    get(i: number): Sample {
      const a = annotation(i)
      const data = new Float32Array(H * W)
      const src = images.data.subarray(i * H * W, (i + 1) * H * W)
      for (let p = 0; p < H * W; p++) data[p] = src[p] / 255
      return { ...a, image: { data, channels: 1, height: H, width: W } }
    },
  }
}

export const DIGITS_PATH = '/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz'

export const DIGITS_CARD: DatasetCard = {
  name: 'digits',
  description: "scikit-learn's 8x8 handwritten digits (UCI optdigits test set), 17 grey levels, 10 classes.",
  tasks: ['classification'],
  sizes: { train: 1439, val: 179, test: 179 },
  license: 'CC BY 4.0 (UCI); shipped with scikit-learn (BSD-3-Clause)',
  provenance:
    'Read from digits.csv.gz of the Debian package python3-sklearn. No official split: index i goes to ' +
    'train when i % 10 < 8, val when i % 10 == 8, test when i % 10 == 9.',
}

let digitsCache: { pixels: Uint8Array; labels: Uint8Array } | undefined

function loadDigits(path: string): { pixels: Uint8Array; labels: Uint8Array } {
  if (digitsCache && path === DIGITS_PATH) return digitsCache
  if (!existsSync(path)) {
    throw new Error(
      `digits: ${path} does not exist. Install the Debian package python3-sklearn ` +
        `(apt-get install python3-sklearn) or pass {path} to a digits.csv[.gz].`,
    )
  }
  let raw: Buffer
  try {
    raw = readFileSync(path)
  } catch (e) {
    throw fileError('digits', 'read', path, e)
  }
  let text: string
  try {
    text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')
  } catch (e) {
    throw new Error(`digits: ${path} is not a valid gzip file (${(e as Error).message})`)
  }
  const rows = text.split('\n').filter((l) => l.trim() !== '')
  const pixels = new Uint8Array(rows.length * 64)
  const labels = new Uint8Array(rows.length)
  rows.forEach((row, i) => {
    const v = row.split(',').map(Number)
    if (v.length !== 65 || v.some((x) => !Number.isInteger(x) || x < 0 || x > 16) || v[64] > 9) {
      throw new Error(`digits: ${path} row ${i + 1} is not 64 pixels in 0..16 and a label in 0..9`)
    }
    pixels.set(v.slice(0, 64), i * 64)
    labels[i] = v[64]
  })
  const out = { pixels, labels }
  if (path === DIGITS_PATH) digitsCache = out
  return out
}

export function digits(options: { split?: 'train' | 'val' | 'test' | 'all'; path?: string } = {}): SyncDataset<Sample> {
  const split = options.split ?? 'train'
  const keep: Record<string, (i: number) => boolean> = {
    train: (i) => i % 10 < 8,
    val: (i) => i % 10 === 8,
    test: (i) => i % 10 === 9,
    all: () => true,
  }
  if (!(split in keep)) throw new RangeError(`digits: split must be train, val, test or all, got '${split}'`)
  const { pixels, labels } = loadDigits(options.path ?? DIGITS_PATH)
  const rows: number[] = []
  for (let i = 0; i < labels.length; i++) if (keep[split](i)) rows.push(i)
  const space = new LabelSpace('class', ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
  const annotation = (i: number): Annotation => {
    checkIndex('digits', i, rows.length)
    return { index: i, labels: { class: labels[rows[i]] } }
  }
  return {
    length: rows.length,
    info: { name: 'digits', split, tasks: ['classification'], labelSpaces: { class: space }, card: DIGITS_CARD },
    recipe: { module: __filename, exportName: 'digits', args: [options] },
    annotation,
    get(i: number): Sample {
      const a = annotation(i)
      const data = Float32Array.from(pixels.subarray(rows[i] * 64, rows[i] * 64 + 64), (v) => v / 16)
      return { ...a, image: { data, channels: 1, height: 8, width: 8 } }
    },
  }
}

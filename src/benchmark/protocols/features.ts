// Frozen-backbone features, computed once per (backbone weights, task, split, kind) and reused by
// every percent, seed and hyper-parameter of the protocols that train on top of them. The backbone
// runs in eval mode under noGrad; what comes back lives on the host (typed arrays), so a cache
// entry holds no engine memory and a training step builds only its own batch's tensors.
// Entries can also be kept on disk (one safetensors file each, written atomically), so a stopped
// benchmark run that starts again does not recompute them.
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { noGrad } from '../../autograd/grad-mode'
import { readFile, saveFile } from '../../io/safetensors'
import type { Backbone } from '../../models/zoo'
import { tensor } from '../../tensor/creation'
import { scope } from '../../tensor/memory'
import type { Tensor } from '../../tensor/tensor'
import type { Dataset, ObjectAnnotations, Sample } from '../../data/types'
import type { BenchmarkTask } from '../tasks'

/** 'pooled': forwardPooled, one [D] vector per image; 'maps': forwardFeatures, one [C, H, W] map per level. */
export type FeatureKind = 'pooled' | 'maps'
export type SplitName = 'train' | 'test'

/** What a task is scored against, per image: its sample without the pixels (and only the task's targets). */
export type ImageTargets = Pick<Sample, 'labels' | 'objects' | 'segmentation' | 'depth' | 'depthValid'>

/** Features and targets of some images of a split, in the order they were asked for. */
export interface FeatureSet {
  size: number
  /** Per level, the shape of one image's features (pooled: [[D]]). */
  shapes: number[][]
  /** Per level, size x numel(shape) floats, image after image. */
  levels: Float32Array[]
  targets: ImageTargets[]
}

const numel = (shape: number[]): number => shape.reduce((a, b) => a * b, 1)

/** The targets of `sample` that `task` scores (object masks and other label spaces are dropped). */
export function targetsOf(task: BenchmarkTask, sample: Sample, index: number): ImageTargets {
  const missing = (what: string): never => {
    throw new Error(`features: sample ${index} of task '${task.name}' has no ${what}, which a ${task.type} task needs`)
  }
  switch (task.type) {
    case 'classification': {
      const space = task.labelSpace ?? missing('labelSpace on the task')
      const label = sample.labels?.[space]
      if (label === undefined) missing(`label in space '${space}'`)
      return { labels: { [space]: label as number } }
    }
    case 'detection': {
      const o = sample.objects ?? missing('objects')
      return { objects: { boxes: o.boxes, labels: o.labels, visibility: o.visibility, ignore: o.ignore } }
    }
    case 'segmentation':
      return { segmentation: sample.segmentation ?? missing('segmentation') }
    case 'depth':
      return { depth: sample.depth ?? missing('depth'), depthValid: sample.depthValid ?? missing('depthValid') }
  }
}

/** Reads samples `indices` of `dataset`, checking that every image is 3 x imageSize x imageSize. */
export async function readImages(
  task: BenchmarkTask,
  dataset: Dataset<Sample>,
  split: string,
  indices: ArrayLike<number>,
): Promise<{ images: Float32Array; targets: ImageTargets[] }> {
  const S = task.imageSize
  const plane = 3 * S * S
  const images = new Float32Array(indices.length * plane)
  const targets: ImageTargets[] = []
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]
    const s = await dataset.get(i)
    const im = s.image
    if (im.channels !== 3 || im.height !== S || im.width !== S || im.data.length !== plane) {
      throw new Error(
        `features: image ${i} of task '${task.name}' (${split}) is ${im.channels}x${im.height}x${im.width}, expected 3x${S}x${S}`,
      )
    }
    images.set(im.data, k * plane)
    targets.push(targetsOf(task, s, i))
  }
  return { images, targets }
}

/** The backbone's features of a batch of images [B, 3, S, S] as host arrays, one per level. */
export function forwardHost(
  backbone: Backbone,
  images: Tensor,
  kind: FeatureKind,
): { shapes: number[][]; data: Float32Array[] } {
  return scope(() => {
    const outs = kind === 'pooled' ? [backbone.forwardPooled(images)] : backbone.forwardFeatures(images)
    return {
      shapes: outs.map((o) => o.shape.slice(1)),
      data: outs.map((o) => o.data() as Float32Array),
    }
  })
}

/**
 * Features of `indices` of a split, computed now (no cache): the backbone in eval mode under
 * noGrad, `batchSize` images at a time. The backbone's train/eval mode is restored afterwards.
 */
export async function computeFeatures(
  backbone: Backbone,
  task: BenchmarkTask,
  dataset: Dataset<Sample>,
  split: string,
  indices: ArrayLike<number>,
  kind: FeatureKind,
  options: { batchSize?: number } = {},
): Promise<FeatureSet> {
  const batchSize = options.batchSize ?? 64
  const S = task.imageSize
  const wasTraining = backbone.training
  backbone.eval()
  const levels: Float32Array[][] = []
  const targets: ImageTargets[] = []
  let shapes: number[][] = []
  try {
    for (let start = 0; start < indices.length; start += batchSize) {
      const batch = Array.from({ length: Math.min(batchSize, indices.length - start) }, (_, k) => indices[start + k])
      const read = await readImages(task, dataset, split, batch)
      const out = noGrad(() =>
        scope(() => forwardHost(backbone, tensor(read.images, { shape: [batch.length, 3, S, S] }), kind)),
      )
      shapes = out.shapes
      levels.push(out.data)
      targets.push(...read.targets)
    }
  } finally {
    backbone.train(wasTraining)
  }
  return {
    size: indices.length,
    shapes,
    levels: shapes.map((shape, l) => {
      const all = new Float32Array(indices.length * numel(shape))
      let at = 0
      for (const chunk of levels) {
        all.set(chunk[l], at)
        at += chunk[l].length
      }
      return all
    }),
    targets,
  }
}

/** A hex digest of the backbone's class and every tensor of its state dict (names, shapes, values). */
export function backboneFingerprint(backbone: Backbone): string {
  const h = createHash('sha256')
  h.update(backbone.constructor.name)
  for (const [name, t] of Object.entries(backbone.stateDict())) {
    h.update(`\0${name}\0${t.dtype}\0${t.shape.join('x')}\0`)
    const d = t.data()
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength))
  }
  return h.digest('hex')
}

/** The rows `indices` of a feature set, as a new feature set. */
export function selectRows(set: FeatureSet, indices: ArrayLike<number>): FeatureSet {
  return {
    size: indices.length,
    shapes: set.shapes,
    levels: set.shapes.map((shape, l) => {
      const n = numel(shape)
      const out = new Float32Array(indices.length * n)
      for (let k = 0; k < indices.length; k++)
        out.set(set.levels[l].subarray(indices[k] * n, (indices[k] + 1) * n), k * n)
      return out
    }),
    targets: Array.from({ length: indices.length }, (_, k) => set.targets[indices[k]]),
  }
}

/** One tensor per level, [rows.length, ...shape], holding the features of `rows`. */
export function levelTensors(set: FeatureSet, rows: ArrayLike<number>): Tensor[] {
  const picked = selectRows(set, rows)
  return picked.levels.map((data, l) => tensor(data, { shape: [rows.length, ...set.shapes[l]] }))
}

interface Entry {
  task: string
  length: number
  shapes: number[][]
  levels: Float32Array[]
  /** 1 where row i has been computed. */
  done: Uint8Array
  targets: (ImageTargets | undefined)[]
}

export interface FeatureCacheStats {
  /** Images the backbone has run on (a cache hit adds none). */
  forwardImages: number
  /** Entries read back from disk. */
  diskReads: number
}

/**
 * Features per (backbone weights, task, split, kind), computed for the rows asked for and kept for
 * later calls. With `dir`, each entry is also saved there as `<hash>-<task>-<size>px-<split>-<kind>.safetensors`
 * (features and targets; atomically, after every call that computed something) and read back when
 * the memory holds no copy. A file that does not fit the task (another size, a corrupt file) is
 * recomputed and overwritten: it is a cache, never the only copy of anything.
 */
export class FeatureCache {
  readonly dir: string | undefined
  readonly stats: FeatureCacheStats = { forwardImages: 0, diskReads: 0 }
  private readonly entries = new Map<string, Entry>()

  constructor(options: { dir?: string } = {}) {
    this.dir = options.dir
  }

  /** Features of `indices` (default: the whole split) of `task`'s split for `backbone`. */
  async get(
    backbone: Backbone,
    task: BenchmarkTask,
    split: SplitName,
    kind: FeatureKind,
    indices?: ArrayLike<number>,
    options: { batchSize?: number } = {},
  ): Promise<FeatureSet> {
    const dataset = split === 'train' ? task.train() : task.test()
    const key = `${backboneFingerprint(backbone).slice(0, 16)}-${task.name}-${task.imageSize}px-${split}-${kind}`
    const rows = indices ?? Int32Array.from({ length: dataset.length }, (_, i) => i)
    for (let k = 0; k < rows.length; k++) {
      if (!Number.isInteger(rows[k]) || rows[k] < 0 || rows[k] >= dataset.length) {
        throw new RangeError(
          `FeatureCache.get: index ${rows[k]} is not an image of task '${task.name}' (${split}, ${dataset.length} images)`,
        )
      }
    }
    let entry = this.entries.get(key) ?? this.readEntry(key, task.name, dataset.length)
    const missing = Array.from(new Set(Array.from(rows)))
      .filter((i) => !entry?.done[i])
      .sort((a, b) => a - b)
    if (missing.length) {
      const fresh = await computeFeatures(backbone, task, dataset, split, missing, kind, options)
      this.stats.forwardImages += missing.length
      entry ??= {
        task: task.name,
        length: dataset.length,
        shapes: fresh.shapes,
        levels: fresh.shapes.map((s) => new Float32Array(dataset.length * numel(s))),
        done: new Uint8Array(dataset.length),
        targets: new Array<ImageTargets | undefined>(dataset.length),
      }
      for (let k = 0; k < missing.length; k++) {
        const i = missing[k]
        fresh.shapes.forEach((s, l) => {
          const n = numel(s)
          entry!.levels[l].set(fresh.levels[l].subarray(k * n, (k + 1) * n), i * n)
        })
        entry.targets[i] = fresh.targets[k]
        entry.done[i] = 1
      }
      this.writeEntry(key, entry, task)
    }
    this.entries.set(key, entry!)
    const full: FeatureSet = {
      size: entry!.length,
      shapes: entry!.shapes,
      levels: entry!.levels,
      targets: entry!.targets as ImageTargets[],
    }
    return selectRows(full, rows)
  }

  /** Forgets the in-memory entries of a task (or all); files on disk stay. */
  evict(taskName?: string): void {
    for (const [key, entry] of [...this.entries])
      if (taskName === undefined || entry.task === taskName) this.entries.delete(key)
  }

  private file(key: string): string {
    return path.join(this.dir!, `${key}.safetensors`)
  }

  private readEntry(key: string, taskName: string, length: number): Entry | undefined {
    if (!this.dir || !fs.existsSync(this.file(key))) return undefined
    let tensors: Record<string, Tensor> = {}
    try {
      const contents = readFile(this.file(key))
      tensors = contents.tensors
      const entry = unpackEntry(tensors, contents.metadata, length)
      if (entry.task !== taskName) throw new Error(`it holds task '${entry.task}'`)
      this.stats.diskReads++
      return entry
    } catch (e) {
      console.warn(`FeatureCache: recomputing '${this.file(key)}': ${(e as Error).message}`)
      return undefined
    } finally {
      for (const t of Object.values(tensors)) t.dispose()
    }
  }

  private writeEntry(key: string, entry: Entry, task: BenchmarkTask): void {
    if (!this.dir) return
    fs.mkdirSync(this.dir, { recursive: true })
    const { tensors, metadata } = packEntry(entry, task)
    try {
      saveFile(this.file(key), tensors, metadata)
    } finally {
      for (const t of Object.values(tensors)) t.dispose()
    }
  }
}

// ------------------------------------------------------------------ disk format
// Tensors: `level.<l>` [length, ...shape] float32, `done` uint8 [length], and the targets packed
// flat: `label` int32 [length] (classification), `objects.*` (counts per image, then every box of
// every image in order), `segmentation` uint8 / `depth` float32 / `depthValid` uint8 [length, H*W].
// Metadata: `shapes` (JSON) and the label space, so the file alone says what it holds.

function packEntry(
  e: Entry,
  task: BenchmarkTask,
): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const N = e.length
  const tensors: Record<string, Tensor> = {}
  e.levels.forEach((data, l) => (tensors[`level.${l}`] = tensor(data, { shape: [N, ...e.shapes[l]] })))
  tensors.done = tensor(e.done, { dtype: 'uint8' })
  const targets = e.targets
  const present = targets.find((t) => t !== undefined) as ImageTargets
  const metadata: Record<string, string> = { shapes: JSON.stringify(e.shapes), task: task.name, type: task.type }
  if (present.labels) {
    const space = Object.keys(present.labels)[0]
    metadata.labelSpace = space
    tensors.label = tensor(Int32Array.from(targets, (t) => t?.labels?.[space] ?? -1))
  }
  if (present.objects) {
    const counts = Int32Array.from(targets, (t) => t?.objects?.labels.length ?? 0)
    const M = counts.reduce((a, b) => a + b, 0)
    const boxes = new Float32Array(4 * M)
    const labels = new Int32Array(M)
    const visibility = new Float32Array(M)
    const ignore = new Uint8Array(M)
    let at = 0
    for (const t of targets) {
      const o = t?.objects
      if (!o) continue
      boxes.set(o.boxes, 4 * at)
      labels.set(o.labels, at)
      visibility.set(o.visibility, at)
      ignore.set(o.ignore, at)
      at += o.labels.length
    }
    Object.assign(tensors, {
      'objects.counts': tensor(counts),
      'objects.boxes': tensor(boxes, { shape: [M, 4] }),
      'objects.labels': tensor(labels),
      'objects.visibility': tensor(visibility),
      'objects.ignore': tensor(ignore, { dtype: 'uint8' }),
    })
  }
  for (const name of ['segmentation', 'depth', 'depthValid'] as const) {
    const first = present[name]
    if (!first) continue
    const plane = first.length
    const all = first instanceof Float32Array ? new Float32Array(N * plane) : new Uint8Array(N * plane)
    targets.forEach((t, i) => t && all.set(t[name]!, i * plane))
    tensors[name] = tensor(all, { shape: [N, plane], dtype: all instanceof Float32Array ? 'float32' : 'uint8' })
  }
  return { tensors, metadata }
}

function unpackEntry(tensors: Record<string, Tensor>, metadata: Record<string, string>, length: number): Entry {
  const shapes = JSON.parse(metadata.shapes ?? 'null') as number[][] | null
  if (!Array.isArray(shapes) || shapes.length === 0) throw new Error('no feature shapes in its metadata')
  const done = tensors.done?.data() as Uint8Array | undefined
  if (!done || done.length !== length) throw new Error(`it holds ${done?.length ?? 0} images, the split has ${length}`)
  const levels = shapes.map((shape, l) => {
    const t = tensors[`level.${l}`]
    if (!t || t.numel !== length * numel(shape)) throw new Error(`level ${l} is missing or has the wrong size`)
    return t.data() as Float32Array
  })
  const targets = new Array<ImageTargets | undefined>(length)
  const label = tensors.label?.data() as Int32Array | undefined
  const counts = tensors['objects.counts']?.data() as Int32Array | undefined
  const objects = counts && {
    boxes: tensors['objects.boxes'].data() as Float32Array,
    labels: tensors['objects.labels'].data() as Int32Array,
    visibility: tensors['objects.visibility'].data() as Float32Array,
    ignore: tensors['objects.ignore'].data() as Uint8Array,
  }
  const maps = {
    segmentation: tensors.segmentation?.data() as Uint8Array | undefined,
    depth: tensors.depth?.data() as Float32Array | undefined,
    depthValid: tensors.depthValid?.data() as Uint8Array | undefined,
  }
  if (!label && !objects && !maps.segmentation && !maps.depth) throw new Error('it holds no targets')
  let at = 0
  for (let i = 0; i < length; i++) {
    const n = counts?.[i] ?? 0
    if (!done[i]) {
      at += n
      continue
    }
    const t: ImageTargets = {}
    if (label) t.labels = { [metadata.labelSpace]: label[i] }
    if (objects) {
      const o: ObjectAnnotations = {
        boxes: objects.boxes.slice(4 * at, 4 * (at + n)),
        labels: objects.labels.slice(at, at + n),
        visibility: objects.visibility.slice(at, at + n),
        ignore: objects.ignore.slice(at, at + n),
      }
      t.objects = o
    }
    for (const name of ['segmentation', 'depth', 'depthValid'] as const) {
      const all = maps[name]
      if (!all) continue
      const plane = all.length / length
      ;(t as Record<string, unknown>)[name] = all.slice(i * plane, (i + 1) * plane)
    }
    targets[i] = t
    at += n
  }
  return { task: metadata.task, length, shapes, levels, done, targets }
}

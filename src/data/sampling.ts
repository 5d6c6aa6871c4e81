// Percentage-shot sampling (GV-B): a p% subset that keeps the class distribution, long tail
// included, deterministic for a seed and nested across percentages, written to a plain list.
//
// Nesting comes from building one seeded *stream* over the whole dataset and taking prefixes:
// the p% subset is the first round(p% * N) items, so 10% is inside 20% by construction.
// Classification: the stream is Balinski-Young's quota method. Plain largest-remainder rounding
// keeps every class within one example of exact but is not house-monotone (the Alabama paradox:
// a class can lose an example when the total grows), which would break nesting; the quota
// method keeps the same within-one guarantee at every prefix and only ever adds. Inside a class,
// items come in the order of one seeded permutation of that class.
// Detection / segmentation: a greedy stream over images: the class furthest below its share of
// instances picks, among its next few images (seeded order per class), the one that brings all
// classes closest to their shares.
// Either way a class the prefix misses gets its first stream item, so every class keeps >= 1.

import { readFileSync, writeFileSync } from 'node:fs'
import { fileError } from '../io/file-errors'
import { annotationOf } from './dataset'
import { Rng, stringKey } from './rng'
import { IGNORE_INDEX, type Annotation, type Dataset, type ImageSample } from './types'

export interface PercentageShotOptions {
  /** In (0, 100]. */
  percent: number
  seed: number
  /** 'class': one label per image (stratified); 'instances': objects / segmentation classes. */
  mode?: 'class' | 'instances'
  /** Label space to stratify on in 'class' mode. */
  labelSpace?: string
}

export interface ShotList {
  dataset: string
  split: string
  percent: number
  seed: number
  mode: 'class' | 'instances'
  labelSpace?: string
  /** Size of the full dataset. */
  total: number
  /** Selected dataset indices, ascending. */
  indices: Int32Array
}

const STREAM_KEY = stringKey('percentageShot')
/** Images considered per greedy step in 'instances' mode. */
const CANDIDATES = 16

export async function percentageShot(dataset: Dataset<ImageSample>, options: PercentageShotOptions): Promise<ShotList> {
  const fn = 'percentageShot'
  const { percent, seed } = options
  if (!(percent > 0 && percent <= 100)) throw new RangeError(`${fn}: percent must be in (0, 100], got ${percent}`)
  if (!Number.isSafeInteger(seed)) throw new RangeError(`${fn}: seed must be a safe integer, got ${seed}`)
  const N = dataset.length
  if (N === 0) throw new RangeError(`${fn}: dataset '${dataset.info.name}' is empty`)
  const annotations: Annotation[] = []
  for (let i = 0; i < N; i++) annotations.push(await annotationOf(dataset, i))
  const first = dataset.info.tasks[0]
  const mode = options.mode ?? (first === 'detection' || first === 'segmentation' ? 'instances' : 'class')
  const K = Math.round((percent / 100) * N)
  let indices: Int32Array
  let labelSpace: string | undefined
  if (mode === 'class') {
    labelSpace = options.labelSpace ?? pickLabelSpace(dataset, annotations[0])
    const labels = Int32Array.from(annotations, (a, i) => {
      const v = a.labels?.[labelSpace!]
      if (v === undefined)
        throw new RangeError(`${fn}: sample ${i} of '${dataset.info.name}' has no label in space '${labelSpace}'`)
      return v
    })
    indices = prefixWithEveryClass(classStream(labels, seed), labels.length, K, (i) => [labels[i]])
  } else {
    const perImage = annotations.map((a, i) => instanceCounts(a, i, fn))
    indices = prefixWithEveryClass(instanceStream(perImage, seed), N, K, (i) => [...perImage[i].keys()])
  }
  return { dataset: dataset.info.name, split: dataset.info.split, percent, seed, mode, labelSpace, total: N, indices }
}

function pickLabelSpace(dataset: Dataset<ImageSample>, a: Annotation): string {
  const labels = a.labels
  if (!labels || Object.keys(labels).length === 0) {
    throw new RangeError(`percentageShot: '${dataset.info.name}' has no image-level labels; pass {mode: 'instances'}`)
  }
  const preferred = [dataset.info.objectLabelSpace, 'class'].find((k) => k !== undefined && k in labels)
  return preferred ?? Object.keys(labels)[0]
}

/** Instances per class in one image; images without any count as one instance of class -1. */
function instanceCounts(a: Annotation, index: number, fn: string): Map<number, number> {
  const counts = new Map<number, number>()
  if (a.objects) {
    a.objects.labels.forEach((c, k) => {
      if (a.objects!.ignore[k] === 0) counts.set(c, (counts.get(c) ?? 0) + 1)
    })
  } else if (a.segmentation) {
    // Without instance ids, a class present in an image counts as one instance of it.
    for (const c of a.segmentation) if (c !== IGNORE_INDEX) counts.set(c, 1)
  } else {
    throw new RangeError(`${fn}: sample ${index} has neither objects nor segmentation for mode 'instances'`)
  }
  if (counts.size === 0) counts.set(-1, 1)
  return counts
}

/** Takes the first K stream items, then each class's first stream item if the prefix missed it. */
function prefixWithEveryClass(
  stream: Int32Array,
  N: number,
  K: number,
  classesOf: (i: number) => number[],
): Int32Array {
  const chosen = new Uint8Array(N)
  const seen = new Set<number>()
  for (let h = 0; h < K; h++) {
    chosen[stream[h]] = 1
    for (const c of classesOf(stream[h])) seen.add(c)
  }
  for (let h = K; h < N; h++) {
    const item = stream[h]
    const missing = classesOf(item).filter((c) => !seen.has(c))
    if (missing.length > 0) {
      chosen[item] = 1
      for (const c of classesOf(item)) seen.add(c)
    }
  }
  const out: number[] = []
  for (let i = 0; i < N; i++) if (chosen[i]) out.push(i)
  return Int32Array.from(out)
}

/** Per-class seeded order of the members of each class. */
function classOrders(members: Map<number, number[]>, seed: number): Map<number, number[]> {
  const out = new Map<number, number[]>()
  for (const [c, list] of members) {
    const perm = Rng.derive(seed, STREAM_KEY, c + 1).permutation(list.length)
    out.set(
      c,
      Array.from(perm, (j) => list[j]),
    )
  }
  return out
}

/** Balinski-Young quota method: an order of all N items whose every prefix satisfies quota. */
export function classStream(labels: Int32Array, seed: number): Int32Array {
  const N = labels.length
  const members = new Map<number, number[]>()
  labels.forEach((c, i) => {
    const list = members.get(c)
    if (list) list.push(i)
    else members.set(c, [i])
  })
  const orders = classOrders(members, seed)
  const classes = [...members.keys()]
  const n = classes.map((c) => members.get(c)!.length)
  const a = new Int32Array(classes.length)
  // A seeded tie-break so equal priorities do not always favour the same class.
  const tie = Float64Array.from(classes, (c) => Rng.derive(seed, STREAM_KEY, 0x51, c + 1).next())
  const better = (i: number, j: number): boolean => {
    // Priority n/(a+1), compared without division.
    const lhs = n[i] * (a[j] + 1)
    const rhs = n[j] * (a[i] + 1)
    return lhs !== rhs ? lhs > rhs : tie[i] > tie[j]
  }
  const heap = new Heap(better)
  classes.forEach((_, i) => heap.push(i))
  const stream = new Int32Array(N)
  const blocked: number[] = []
  for (let h = 0; h < N; h++) {
    let pick = -1
    while (heap.size > 0) {
      const i = heap.pop()
      // Upper quota at house size h + 1: a + 1 <= ceil(n (h + 1) / N).
      if (a[i] + 1 <= Math.ceil((n[i] * (h + 1)) / N)) {
        pick = i
        break
      }
      blocked.push(i)
    }
    if (pick < 0) throw new Error('classStream: no eligible class (quota method invariant broken)')
    stream[h] = orders.get(classes[pick])![a[pick]]
    a[pick]++
    for (const b of blocked) heap.push(b)
    blocked.length = 0
    if (a[pick] < n[pick]) heap.push(pick)
  }
  return stream
}

/** Greedy image stream: the class most below its share of instances takes its next image. */
export function instanceStream(perImage: Map<number, number>[], seed: number): Int32Array {
  const N = perImage.length
  const members = new Map<number, number[]>()
  const total = new Map<number, number>()
  perImage.forEach((counts, i) => {
    for (const [c, k] of counts) {
      const list = members.get(c)
      if (list) list.push(i)
      else members.set(c, [i])
      total.set(c, (total.get(c) ?? 0) + k)
    }
  })
  const orders = classOrders(members, seed)
  const classes = [...members.keys()].sort((x, y) => x - y)
  const n = classes.map((c) => total.get(c)!)
  const tie = classes.map((c) => Rng.derive(seed, STREAM_KEY, 0x52, c + 1).next())
  const slot = new Map(classes.map((c, i) => [c, i]))
  const got = new Float64Array(classes.length)
  const cursor = new Int32Array(classes.length)
  const taken = new Uint8Array(N)
  const stream = new Int32Array(N)
  for (let h = 0; h < N; h++) {
    const f = (h + 1) / N
    let best = -1
    let bestDeficit = -Infinity
    for (let i = 0; i < classes.length; i++) {
      const list = orders.get(classes[i])!
      while (cursor[i] < list.length && taken[list[cursor[i]]]) cursor[i]++
      if (cursor[i] >= list.length) continue
      const deficit = n[i] * f - got[i]
      if (deficit > bestDeficit || (deficit === bestDeficit && tie[i] > tie[best])) {
        best = i
        bestDeficit = deficit
      }
    }
    // Among the class's next few images, take the one that moves all classes closest to their
    // targets: following one class alone favours crowded images (they sit in many class lists)
    // and overshoots every class.
    const list = orders.get(classes[best])!
    let image = -1
    let bestCost = Infinity
    for (let j = cursor[best], seen = 0; j < list.length && seen < CANDIDATES; j++) {
      const candidate = list[j]
      if (taken[candidate]) continue
      seen++
      let cost = 0
      for (const [c, k] of perImage[candidate]) {
        const i = slot.get(c)!
        const before = got[i] - n[i] * f
        cost += (before + k) ** 2 - before ** 2
      }
      if (cost < bestCost) {
        bestCost = cost
        image = candidate
      }
    }
    taken[image] = 1
    stream[h] = image
    for (const [c, k] of perImage[image]) got[slot.get(c)!] += k
  }
  return stream
}

class Heap {
  private readonly items: number[] = []
  constructor(private readonly better: (a: number, b: number) => boolean) {}
  get size(): number {
    return this.items.length
  }
  push(x: number): void {
    const it = this.items
    it.push(x)
    let i = it.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.better(it[i], it[p])) break
      ;[it[i], it[p]] = [it[p], it[i]]
      i = p
    }
  }
  pop(): number {
    const it = this.items
    const top = it[0]
    const last = it.pop()!
    if (it.length > 0) {
      it[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < it.length && this.better(it[l], it[m])) m = l
        if (r < it.length && this.better(it[r], it[m])) m = r
        if (m === i) break
        ;[it[i], it[m]] = [it[m], it[i]]
        i = m
      }
    }
    return top
  }
}

const HEADER = '# intern-vision percentage-shot list v1'

/** The list as text: a header line, a key=value line, then one dataset index per line. */
export function formatShotList(list: ShotList): string {
  const meta = [
    `dataset=${encodeURIComponent(list.dataset)}`,
    `split=${encodeURIComponent(list.split)}`,
    `percent=${list.percent}`,
    `seed=${list.seed}`,
    `mode=${list.mode}`,
    ...(list.labelSpace ? [`labelSpace=${encodeURIComponent(list.labelSpace)}`] : []),
    `total=${list.total}`,
    `selected=${list.indices.length}`,
  ]
  return `${HEADER}\n# ${meta.join(' ')}\n${Array.from(list.indices).join('\n')}\n`
}

export function parseShotList(text: string, source = 'text'): ShotList {
  const fn = 'parseShotList'
  const bad = (problem: string): never => {
    throw new Error(`${fn}: ${source} ${problem}`)
  }
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
  if (lines[0] !== HEADER || !lines[1]?.startsWith('# '))
    bad(`does not start with '${HEADER}' and a '# key=value ...' line`)
  const meta: Record<string, string> = Object.create(null)
  for (const kv of lines[1].slice(2).split(' ')) {
    const at = kv.indexOf('=')
    if (at <= 0) bad(`header has '${kv}', not key=value`)
    try {
      meta[kv.slice(0, at)] = decodeURIComponent(kv.slice(at + 1))
    } catch {
      bad(`header value of '${kv.slice(0, at)}' is not URI-encoded text`)
    }
  }
  for (const key of ['dataset', 'split', 'percent', 'seed', 'mode', 'total', 'selected']) {
    if (!(key in meta)) bad(`header lacks '${key}'`)
  }
  const percent = Number(meta.percent)
  const seed = Number(meta.seed)
  const total = Number(meta.total)
  if (!(percent > 0 && percent <= 100)) bad(`header has percent=${meta.percent}, not in (0, 100]`)
  if (!Number.isSafeInteger(seed)) bad(`header has seed=${meta.seed}, not an integer`)
  if (!Number.isSafeInteger(total) || total < 0) bad(`header has total=${meta.total}, not a count`)
  const mode =
    meta.mode === 'class' || meta.mode === 'instances'
      ? meta.mode
      : bad(`header has mode=${meta.mode}, not class or instances`)
  const indices = Int32Array.from(lines.slice(2), (l, i) => {
    const v = Number(l)
    if (!/^\d+$/.test(l) || v >= total) bad(`line ${i + 3} ('${l.slice(0, 40)}') is not an index below total=${total}`)
    return v
  })
  for (let i = 1; i < indices.length; i++) {
    if (indices[i] <= indices[i - 1])
      bad(`lists index ${indices[i]} after ${indices[i - 1]}; indices must be ascending and distinct`)
  }
  if (String(indices.length) !== meta.selected)
    bad(`says selected=${meta.selected} but lists ${indices.length} indices`)
  return {
    dataset: meta.dataset,
    split: meta.split,
    percent,
    seed,
    mode,
    labelSpace: meta.labelSpace,
    total,
    indices,
  }
}

export function writeShotList(path: string, list: ShotList): void {
  writeFileSync(path, formatShotList(list))
}

export function readShotList(path: string): ShotList {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw fileError('readShotList', 'read', path, e)
  }
  return parseShotList(text, path)
}

// FCOS training targets on host arrays: which locations are positives for which box, their
// (l, t, r, b) distances and centerness. The rules are FCOS's (with its center sampling):
// a location is a candidate for a box when it lies inside the box's central region (radius
// x stride around the centre, clipped to the box; the whole box when the radius is 0) and its
// largest distance to the box's sides falls in the level's range; among candidate boxes it
// takes the one of smallest area. Ignore-flagged boxes are never assigned: a location inside
// one that no other box claims is neither positive nor negative (left out of the
// classification loss).
import { checkBoxes } from './boxes'
import type { FeatureLevel } from './fcos'

/** The objects of one image: 4n xyxy pixel boxes, n labels, optionally n ignore flags (nonzero = ignore). */
export interface ImageObjects {
  boxes: ArrayLike<number>
  labels: ArrayLike<number>
  ignore?: ArrayLike<number> | null
}

export interface FCOSTargetOptions {
  /**
   * Per level, the inclusive [min, max] of a location's largest distance to its box's sides. Default:
   * defaultRanges(strides).
   */
  ranges?: [number, number][]
  /** Central region radius in strides; 0 uses the whole box. Default 1.5 (FCOS). */
  centerSampling?: number
  /** When given, labels of non-ignored boxes must lie in [0, numClasses). */
  numClasses?: number
}

export interface FCOSTargets {
  /** [P] class of the assigned box, -1 for background and ignored locations. */
  labels: Int32Array
  /** [P] 1 where a location is left out of the classification loss. */
  ignore: Uint8Array
  /** [P, 4] distances (l, t, r, b) in pixels to the assigned box, 0 for non-positives. */
  boxes: Float32Array
  /** [P] sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b)) for positives, 0 elsewhere. */
  centerness: Float32Array
  numPositives: number
}

/**
 * FCOS's size bands generalised to any strides: the boundary between level k and k + 1 is
 * 8 x stride_k (FCOS's 64, 128, 256, 512 for strides 8 to 64), the first band starts at 0 and
 * the last is open.
 */
export function defaultRanges(strides: readonly number[]): [number, number][] {
  return strides.map((_, k) => [k === 0 ? 0 : 8 * strides[k - 1], k === strides.length - 1 ? Infinity : 8 * strides[k]])
}

export function checkLevels(fn: string, levels: unknown): FeatureLevel[] {
  const ok = (v: unknown): boolean => Number.isInteger(v) && (v as number) > 0
  if (
    !Array.isArray(levels) ||
    levels.length === 0 ||
    !levels.every((l) => l && ok(l.stride) && ok(l.height) && ok(l.width))
  )
    throw new Error(
      `${fn}: levels must be a non-empty list of {stride, height, width} positive integers, got ${JSON.stringify(levels)}`,
    )
  return levels
}

function checkOptions(
  fn: string,
  levels: FeatureLevel[],
  opts: FCOSTargetOptions,
): { ranges: [number, number][]; radius: number } {
  const ranges = opts.ranges ?? defaultRanges(levels.map((l) => l.stride))
  if (
    !Array.isArray(ranges) ||
    ranges.length !== levels.length ||
    !ranges.every((r) => Array.isArray(r) && r.length === 2 && r[0] <= r[1])
  )
    throw new Error(
      `${fn}: ranges must give one [min, max] (min <= max) per level (${levels.length}), got ${JSON.stringify(ranges)}`,
    )
  const radius = opts.centerSampling ?? 1.5
  if (!(radius >= 0) || !Number.isFinite(radius))
    throw new Error(`${fn}: centerSampling must be a non-negative radius in strides (0 = off), got ${radius}`)
  if (opts.numClasses !== undefined && !(Number.isInteger(opts.numClasses) && opts.numClasses > 0))
    throw new Error(`${fn}: numClasses must be a positive integer, got ${opts.numClasses}`)
  return { ranges, radius }
}

/** Checks one image's objects; returns their count. */
export function checkObjects(
  fn: string,
  objects: ImageObjects,
  numClasses: number | undefined,
  what = 'objects',
): number {
  if (!objects || typeof objects !== 'object') throw new Error(`${fn}: ${what} must be {boxes, labels, ignore?}`)
  const n = checkBoxes(fn, `${what}.boxes`, objects.boxes)
  const { labels, ignore } = objects
  if (!labels || labels.length !== n)
    throw new Error(`${fn}: ${what}.labels must hold one label per box (${n}), got ${labels?.length}`)
  if (ignore != null && ignore.length !== n)
    throw new Error(`${fn}: ${what}.ignore must hold one flag per box (${n}), got ${ignore.length}`)
  for (let i = 0; i < n; i++) {
    if (ignore?.[i]) continue
    const c = labels[i]
    if (!Number.isInteger(c) || c < 0 || (numClasses !== undefined && c >= numClasses))
      throw new Error(`${fn}: ${what}.labels[${i}] = ${c} is out of range [0, ${numClasses ?? 'numClasses'})`)
  }
  return n
}

/** Targets for one image, locations ordered as fcosPoints(levels). */
export function fcosTargets(levels: FeatureLevel[], objects: ImageObjects, opts: FCOSTargetOptions = {}): FCOSTargets {
  const fn = 'fcosTargets'
  checkLevels(fn, levels)
  const { ranges, radius } = checkOptions(fn, levels, opts)
  const n = checkObjects(fn, objects, opts.numClasses)
  const { boxes: gt, labels: gtLabels, ignore: gtIgnore } = objects
  const P = levels.reduce((s, l) => s + l.height * l.width, 0)
  const out: FCOSTargets = {
    labels: new Int32Array(P).fill(-1),
    ignore: new Uint8Array(P),
    boxes: new Float32Array(4 * P),
    centerness: new Float32Array(P),
    numPositives: 0,
  }
  let p = 0
  levels.forEach(({ stride, height, width }, k) => {
    const [lo, hi] = ranges[k]
    const reach = radius * stride
    const half = Math.floor(stride / 2)
    for (let i = 0; i < height; i++) {
      for (let j = 0; j < width; j++, p++) {
        const x = j * stride + half
        const y = i * stride + half
        let best = -1
        let bestArea = Infinity
        let insideIgnored = false
        for (let m = 0; m < n; m++) {
          const [x1, y1, x2, y2] = [gt[4 * m], gt[4 * m + 1], gt[4 * m + 2], gt[4 * m + 3]]
          const l = x - x1
          const t = y - y1
          const r = x2 - x
          const b = y2 - y
          if (gtIgnore?.[m]) {
            if (Math.min(l, t, r, b) > 0) insideIgnored = true
            continue
          }
          if (radius > 0) {
            const cx = (x1 + x2) / 2
            const cy = (y1 + y2) / 2
            const inCentre =
              Math.min(
                x - Math.max(cx - reach, x1),
                y - Math.max(cy - reach, y1),
                Math.min(cx + reach, x2) - x,
                Math.min(cy + reach, y2) - y,
              ) > 0
            if (!inCentre) continue
          } else if (Math.min(l, t, r, b) <= 0) continue
          const far = Math.max(l, t, r, b)
          if (far < lo || far > hi) continue
          const area = (x2 - x1) * (y2 - y1)
          if (area < bestArea) {
            best = m
            bestArea = area
          }
        }
        if (best < 0) {
          if (insideIgnored) out.ignore[p] = 1
          continue
        }
        const [x1, y1, x2, y2] = [gt[4 * best], gt[4 * best + 1], gt[4 * best + 2], gt[4 * best + 3]]
        const d = [x - x1, y - y1, x2 - x, y2 - y]
        out.boxes.set(d, 4 * p)
        out.labels[p] = gtLabels[best]
        out.centerness[p] = Math.sqrt(
          (Math.min(d[0], d[2]) / Math.max(d[0], d[2])) * (Math.min(d[1], d[3]) / Math.max(d[1], d[3])),
        )
        out.numPositives++
      }
    }
  })
  return out
}

/** Targets for a batch: each image's fcosTargets, concatenated image after image ([N * P] and [N * P, 4]). */
export function fcosBatchTargets(
  levels: FeatureLevel[],
  images: ImageObjects[],
  opts: FCOSTargetOptions = {},
): FCOSTargets {
  if (!Array.isArray(images) || images.length === 0)
    throw new Error('fcosBatchTargets: images must be a non-empty list of per-image objects')
  const parts = images.map((objects, i) => {
    try {
      return fcosTargets(levels, objects, opts)
    } catch (e) {
      throw new Error(`${(e as Error).message} (image ${i})`)
    }
  })
  const P = parts[0].labels.length
  const out: FCOSTargets = {
    labels: new Int32Array(images.length * P),
    ignore: new Uint8Array(images.length * P),
    boxes: new Float32Array(images.length * P * 4),
    centerness: new Float32Array(images.length * P),
    numPositives: 0,
  }
  parts.forEach((t, i) => {
    out.labels.set(t.labels, i * P)
    out.ignore.set(t.ignore, i * P)
    out.boxes.set(t.boxes, 4 * i * P)
    out.centerness.set(t.centerness, i * P)
    out.numPositives += t.numPositives
  })
  return out
}

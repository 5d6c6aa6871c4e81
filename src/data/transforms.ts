// Transforms that keep every target aligned with the image: geometric ones move boxes, masks,
// class maps and depth with the pixels; photometric ones touch only the image. Each takes the
// sample and a seeded Rng (the DataLoader derives one per (seed, epoch, index)), never mutates
// its input, and carries a recipe so that DataLoader workers can rebuild it.

import { nested, withRecipe } from './recipe'
import type { Rng } from './rng'
import { IGNORE_INDEX, type ImageCHW, type ObjectAnnotations, type Recipe, type Sample } from './types'
import { augmentCaptionText, type CaptionAugmentOptions } from './caption-augment'

export interface Transform<S extends Sample = Sample> {
  (sample: S, rng: Rng): S
  recipe?: Recipe
}

const M = __filename

type Size = number | [number, number]

function checkSize(fn: string, size: Size): void {
  const sides = typeof size === 'number' ? [size] : size
  if (
    !Array.isArray(sides) ||
    sides.length < 1 ||
    sides.length > 2 ||
    sides.some((s) => !Number.isInteger(s) || s < 1)
  ) {
    throw new RangeError(`${fn}: size must be a positive integer or [height, width], got ${JSON.stringify(size)}`)
  }
}

function pair(size: Size): [number, number] {
  return typeof size === 'number' ? [size, size] : size
}

/** A region of the source (may reach outside it) resampled to outH x outW. */
interface Region {
  x: number
  y: number
  w: number
  h: number
  outH: number
  outW: number
}

/**
 * The one geometric primitive: crops a region (padding outside with fill values) and resizes it.
 * Images are sampled bilinearly, label maps and masks by nearest neighbour, depth by nearest
 * neighbour too (averaging across an object edge would invent depths no surface has).
 */
export function resampleSample<S extends Sample>(sample: S, r: Region, fill = 0): S {
  const { height: H, width: W } = sample.image
  const sx = r.w / r.outW
  const sy = r.h / r.outH
  const out: S = { ...sample, image: resampleImage(sample.image, r, fill) }
  const nearest = (): Int32Array => {
    const idx = new Int32Array(r.outH * r.outW)
    for (let i = 0; i < r.outH; i++) {
      const ys = Math.floor(r.y + (i + 0.5) * sy)
      for (let j = 0; j < r.outW; j++) {
        const xs = Math.floor(r.x + (j + 0.5) * sx)
        idx[i * r.outW + j] = ys < 0 || ys >= H || xs < 0 || xs >= W ? -1 : ys * W + xs
      }
    }
    return idx
  }
  let idx: Int32Array | undefined
  const gather = <A extends Uint8Array | Float32Array>(
    src: A,
    outside: number,
    make: (n: number) => A,
    planes = 1,
  ): A => {
    idx ??= nearest()
    const plane = H * W
    const dst = make(planes * idx.length)
    for (let c = 0; c < planes; c++) {
      for (let p = 0; p < idx.length; p++) dst[c * idx.length + p] = idx[p] < 0 ? outside : src[c * plane + idx[p]]
    }
    return dst
  }
  if (sample.segmentation) out.segmentation = gather(sample.segmentation, IGNORE_INDEX, (n) => new Uint8Array(n))
  if (sample.depth) out.depth = gather(sample.depth, 0, (n) => new Float32Array(n))
  if (sample.depthValid) out.depthValid = gather(sample.depthValid, 0, (n) => new Uint8Array(n))
  if (sample.objects) {
    const o = sample.objects
    const n = o.labels.length
    const boxes = new Float32Array(4 * n)
    for (let k = 0; k < n; k++) {
      boxes[4 * k] = clamp((o.boxes[4 * k] - r.x) / sx, 0, r.outW)
      boxes[4 * k + 1] = clamp((o.boxes[4 * k + 1] - r.y) / sy, 0, r.outH)
      boxes[4 * k + 2] = clamp((o.boxes[4 * k + 2] - r.x) / sx, 0, r.outW)
      boxes[4 * k + 3] = clamp((o.boxes[4 * k + 3] - r.y) / sy, 0, r.outH)
    }
    const moved: ObjectAnnotations = { ...o, boxes }
    if (o.masks) moved.masks = gather(o.masks, 0, (m) => new Uint8Array(m), n)
    // Objects cropped away entirely leave the annotation.
    const keep: number[] = []
    for (let k = 0; k < n; k++) if (boxes[4 * k + 2] > boxes[4 * k] && boxes[4 * k + 3] > boxes[4 * k + 1]) keep.push(k)
    out.objects = keep.length === n ? moved : selectObjects(moved, keep, r.outH * r.outW)
  }
  return out
}

export function selectObjects(o: ObjectAnnotations, keep: number[], plane: number): ObjectAnnotations {
  const out: ObjectAnnotations = {
    boxes: new Float32Array(4 * keep.length),
    labels: Int32Array.from(keep, (k) => o.labels[k]),
    visibility: Float32Array.from(keep, (k) => o.visibility[k]),
    ignore: Uint8Array.from(keep, (k) => o.ignore[k]),
  }
  keep.forEach((k, i) => out.boxes.set(o.boxes.subarray(4 * k, 4 * k + 4), 4 * i))
  if (o.masks) {
    const masks = new Uint8Array(keep.length * plane)
    keep.forEach((k, i) => masks.set(o.masks!.subarray(k * plane, (k + 1) * plane), i * plane))
    out.masks = masks
  }
  return out
}

function resampleImage(image: ImageCHW, r: Region, fill: number): ImageCHW {
  const { data, channels: C, height: H, width: W } = image
  const plane = H * W
  const outPlane = r.outH * r.outW
  const out = new Float32Array(C * outPlane)
  const sx = r.w / r.outW
  const sy = r.h / r.outH
  for (let i = 0; i < r.outH; i++) {
    const ys = r.y + (i + 0.5) * sy
    const fy = Math.min(H - 1, Math.max(0, ys - 0.5))
    const y0 = Math.floor(fy)
    const y1 = Math.min(H - 1, y0 + 1)
    const wy = fy - y0
    for (let j = 0; j < r.outW; j++) {
      const xs = r.x + (j + 0.5) * sx
      const p = i * r.outW + j
      if (ys < 0 || ys >= H || xs < 0 || xs >= W) {
        for (let c = 0; c < C; c++) out[c * outPlane + p] = fill
        continue
      }
      const fx = Math.min(W - 1, Math.max(0, xs - 0.5))
      const x0 = Math.floor(fx)
      const x1 = Math.min(W - 1, x0 + 1)
      const wx = fx - x0
      for (let c = 0; c < C; c++) {
        const b = c * plane
        const top = data[b + y0 * W + x0] * (1 - wx) + data[b + y0 * W + x1] * wx
        const bottom = data[b + y1 * W + x0] * (1 - wx) + data[b + y1 * W + x1] * wx
        out[c * outPlane + p] = top * (1 - wy) + bottom * wy
      }
    }
  }
  return { data: out, channels: C, height: r.outH, width: r.outW }
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x
}

/** Mirrors the sample left-right (exactly; flipping twice gives back the input). */
export function hflipSample<S extends Sample>(sample: S): S {
  const { height: H, width: W } = sample.image
  const flipPlanes = <A extends Uint8Array | Float32Array>(src: A): A => {
    const dst = src.slice() as A
    const rows = src.length / W
    for (let row = 0; row < rows; row++) {
      const o = row * W
      for (let x = 0; x < W; x++) dst[o + x] = src[o + W - 1 - x]
    }
    return dst
  }
  const out: S = { ...sample, image: { ...sample.image, data: flipPlanes(sample.image.data) } }
  if (sample.segmentation) out.segmentation = flipPlanes(sample.segmentation)
  if (sample.depth) out.depth = flipPlanes(sample.depth)
  if (sample.depthValid) out.depthValid = flipPlanes(sample.depthValid)
  if (sample.objects) {
    const o = sample.objects
    const boxes = o.boxes.slice()
    for (let k = 0; k < o.labels.length; k++) {
      boxes[4 * k] = W - o.boxes[4 * k + 2]
      boxes[4 * k + 2] = W - o.boxes[4 * k]
    }
    out.objects = { ...o, boxes, ...(o.masks ? { masks: flipPlanes(o.masks) } : {}) }
  }
  void H
  return out
}

/** Flips left-right with probability p. */
export function randomHorizontalFlip(options: { p?: number } = {}): Transform {
  const p = options.p ?? 0.5
  if (!(p >= 0 && p <= 1)) throw new RangeError(`randomHorizontalFlip: p must be in [0, 1], got ${p}`)
  return withRecipe((s: Sample, rng: Rng) => (rng.next() < p ? hflipSample(s) : s), M, 'randomHorizontalFlip', [
    options,
  ])
}

/** Resizes to [height, width], or (a number) so that the shorter side is `size` (torchvision). */
export function resize(size: Size): Transform {
  checkSize('resize', size)
  return withRecipe(
    (s: Sample) => {
      const { height: H, width: W } = s.image
      const [outH, outW] =
        typeof size === 'number'
          ? H <= W
            ? [size, Math.max(1, Math.round((W * size) / H))]
            : [Math.max(1, Math.round((H * size) / W)), size]
          : size
      return resampleSample(s, { x: 0, y: 0, w: W, h: H, outH, outW })
    },
    M,
    'resize',
    [size],
  )
}

export function centerCrop(size: Size): Transform {
  checkSize('centerCrop', size)
  const [h, w] = pair(size)
  return withRecipe(
    (s: Sample) => {
      const { height: H, width: W } = s.image
      const x = Math.round((W - w) / 2)
      const y = Math.round((H - h) / 2)
      return resampleSample(s, { x, y, w, h, outH: h, outW: w })
    },
    M,
    'centerCrop',
    [size],
  )
}

/** Pads by [top, right, bottom, left] (or one number for all); class maps get IGNORE_INDEX. */
export function pad(padding: number | [number, number, number, number], options: { fill?: number } = {}): Transform {
  const [top, right, bottom, left] = typeof padding === 'number' ? [padding, padding, padding, padding] : padding
  if ([top, right, bottom, left].some((v) => !Number.isInteger(v) || v < 0)) {
    throw new RangeError(`pad: padding must be non-negative integers, got ${JSON.stringify(padding)}`)
  }
  const fill = options.fill ?? 0
  return withRecipe(
    (s: Sample) => {
      const { height: H, width: W } = s.image
      const outH = H + top + bottom
      const outW = W + left + right
      return resampleSample(s, { x: -left, y: -top, w: outW, h: outH, outH, outW }, fill)
    },
    M,
    'pad',
    [padding, options],
  )
}

export interface RandomResizedCropOptions {
  scale?: [number, number]
  ratio?: [number, number]
}

/** torchvision's RandomResizedCrop: a random area fraction and aspect ratio, resized to size. */
export function randomResizedCrop(size: Size, options: RandomResizedCropOptions = {}): Transform {
  checkSize('randomResizedCrop', size)
  const [outH, outW] = pair(size)
  const [smin, smax] = options.scale ?? [0.08, 1]
  const [rmin, rmax] = options.ratio ?? [3 / 4, 4 / 3]
  if (!(smin > 0 && smin <= smax && smax <= 1)) {
    throw new RangeError(`randomResizedCrop: scale must satisfy 0 < min <= max <= 1, got [${smin}, ${smax}]`)
  }
  if (!(rmin > 0 && rmin <= rmax))
    throw new RangeError(`randomResizedCrop: ratio must satisfy 0 < min <= max, got [${rmin}, ${rmax}]`)
  return withRecipe(
    (s: Sample, rng: Rng) => {
      const { height: H, width: W } = s.image
      const area = H * W
      for (let attempt = 0; attempt < 10; attempt++) {
        const target = area * rng.uniform(smin, smax)
        const aspect = Math.exp(rng.uniform(Math.log(rmin), Math.log(rmax)))
        const w = Math.round(Math.sqrt(target * aspect))
        const h = Math.round(Math.sqrt(target / aspect))
        if (w > 0 && h > 0 && w <= W && h <= H) {
          const y = rng.int(0, H - h + 1)
          const x = rng.int(0, W - w + 1)
          return resampleSample(s, { x, y, w, h, outH, outW })
        }
      }
      // Fallback: the largest central crop within the ratio range.
      const inRatio = W / H
      const [w, h] = inRatio < rmin ? [W, Math.round(W / rmin)] : inRatio > rmax ? [Math.round(H * rmax), H] : [W, H]
      return resampleSample(s, { x: Math.floor((W - w) / 2), y: Math.floor((H - h) / 2), w, h, outH, outW })
    },
    M,
    'randomResizedCrop',
    [size, options],
  )
}

export interface ColorJitterOptions {
  brightness?: number
  contrast?: number
  saturation?: number
  /** At most 0.5 (a half turn of the hue circle). */
  hue?: number
}

/** torchvision's ColorJitter: the four adjustments in random order with random strengths. */
export function colorJitter(options: ColorJitterOptions = {}): Transform {
  const { brightness = 0, contrast = 0, saturation = 0, hue = 0 } = options
  for (const [k, v] of Object.entries({ brightness, contrast, saturation })) {
    if (!(v >= 0)) throw new RangeError(`colorJitter: ${k} must be >= 0, got ${v}`)
  }
  if (!(hue >= 0 && hue <= 0.5)) throw new RangeError(`colorJitter: hue must be in [0, 0.5], got ${hue}`)
  return withRecipe(
    (s: Sample, rng: Rng) => {
      const img = { ...s.image, data: s.image.data.slice() }
      const order = rng.permutation(4)
      for (const op of order) {
        if (op === 0 && brightness > 0) scaleImage(img, rng.uniform(Math.max(0, 1 - brightness), 1 + brightness), 0)
        if (op === 1 && contrast > 0)
          scaleImage(img, rng.uniform(Math.max(0, 1 - contrast), 1 + contrast), meanLuminance(img))
        if (op === 2 && saturation > 0 && img.channels === 3)
          saturate(img, rng.uniform(Math.max(0, 1 - saturation), 1 + saturation))
        if (op === 3 && hue > 0 && img.channels === 3) shiftHue(img, rng.uniform(-hue, hue))
      }
      return { ...s, image: img }
    },
    M,
    'colorJitter',
    [options],
  )
}

function scaleImage(img: ImageCHW, factor: number, about: number): void {
  const d = img.data
  for (let i = 0; i < d.length; i++) d[i] = clamp(about + (d[i] - about) * factor, 0, 1)
}

function luminance(img: ImageCHW): Float32Array {
  const plane = img.height * img.width
  if (img.channels === 1) return img.data.slice(0, plane)
  const d = img.data
  const out = new Float32Array(plane)
  for (let p = 0; p < plane; p++) out[p] = 0.299 * d[p] + 0.587 * d[plane + p] + 0.114 * d[2 * plane + p]
  return out
}

function meanLuminance(img: ImageCHW): number {
  const l = luminance(img)
  let s = 0
  for (let i = 0; i < l.length; i++) s += l[i]
  return s / l.length
}

function saturate(img: ImageCHW, factor: number): void {
  const plane = img.height * img.width
  const l = luminance(img)
  const d = img.data
  for (let c = 0; c < 3; c++)
    for (let p = 0; p < plane; p++) d[c * plane + p] = clamp(l[p] + (d[c * plane + p] - l[p]) * factor, 0, 1)
}

function shiftHue(img: ImageCHW, shift: number): void {
  const plane = img.height * img.width
  const d = img.data
  for (let p = 0; p < plane; p++) {
    const r = d[p]
    const g = d[plane + p]
    const b = d[2 * plane + p]
    const max = Math.max(r, g, b)
    const min = Math.min(r, g, b)
    const delta = max - min
    if (delta === 0) continue
    let h = max === r ? ((g - b) / delta) % 6 : max === g ? (b - r) / delta + 2 : (r - g) / delta + 4
    h = (((h / 6 + shift) % 1) + 1) % 1
    const sat = delta / max
    const [nr, ng, nb] = hsvToRgb(h, sat, max)
    d[p] = nr
    d[plane + p] = ng
    d[2 * plane + p] = nb
  }
}

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6)
  const f = h * 6 - i
  const p = v * (1 - s)
  const q = v * (1 - f * s)
  const t = v * (1 - (1 - f) * s)
  switch (i % 6) {
    case 0:
      return [v, t, p]
    case 1:
      return [q, v, p]
    case 2:
      return [p, v, t]
    case 3:
      return [p, q, v]
    case 4:
      return [t, p, v]
    default:
      return [v, p, q]
  }
}

/** Converts to grey with probability p, keeping 3 channels unless keepChannels is false. */
export function randomGrayscale(options: { p?: number; keepChannels?: boolean } = {}): Transform {
  const p = options.p ?? 0.1
  if (!(p >= 0 && p <= 1)) throw new RangeError(`randomGrayscale: p must be in [0, 1], got ${p}`)
  const keep = options.keepChannels ?? true
  return withRecipe(
    (s: Sample, rng: Rng) => {
      if (!(rng.next() < p) || s.image.channels === 1) return s
      const l = luminance(s.image)
      const channels = keep ? s.image.channels : 1
      const data = new Float32Array(channels * l.length)
      for (let c = 0; c < channels; c++) data.set(l, c * l.length)
      return { ...s, image: { ...s.image, data, channels } }
    },
    M,
    'randomGrayscale',
    [options],
  )
}

export function grayscale(options: { keepChannels?: boolean } = {}): Transform {
  const t = randomGrayscale({ p: 1, keepChannels: options.keepChannels })
  return withRecipe((s: Sample, rng: Rng) => t(s, rng), M, 'grayscale', [options])
}

/** (x - mean) / std per channel. */
export function normalize(options: { mean: number[]; std: number[] }): Transform {
  const { mean, std } = options
  if (!Array.isArray(mean) || !Array.isArray(std) || mean.length !== std.length || mean.length === 0) {
    throw new RangeError(`normalize: mean and std must be arrays of one length, got ${JSON.stringify(options)}`)
  }
  if (std.some((v) => !(v > 0))) throw new RangeError(`normalize: std must be positive, got [${std.join(', ')}]`)
  return withRecipe(
    (s: Sample) => {
      const { channels: C, height: H, width: W } = s.image
      if (C !== mean.length) {
        throw new RangeError(`normalize: image has ${C} channels but mean/std have ${mean.length}`)
      }
      const plane = H * W
      const data = new Float32Array(s.image.data.length)
      for (let c = 0; c < C; c++) {
        const inv = 1 / std[c]
        for (let p = 0; p < plane; p++) data[c * plane + p] = (s.image.data[c * plane + p] - mean[c]) * inv
      }
      return { ...s, image: { ...s.image, data } }
    },
    M,
    'normalize',
    [options],
  )
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406]
export const IMAGENET_STD = [0.229, 0.224, 0.225]

/** Applies transforms in order, each on its own forked Rng stream so that how many draws one
 * transform makes never shifts the draws of the next. */
export function compose(transforms: Transform[]): Transform {
  transforms.forEach((t, i) => {
    if (typeof t !== 'function') throw new TypeError(`compose: transforms[${i}] is not a function`)
  })
  const args = transforms.every((t) => t.recipe) ? [transforms.map((t) => nested(t.recipe!))] : undefined
  const fn = (s: Sample, rng: Rng): Sample => transforms.reduce((acc, t) => t(acc, rng.fork()), s)
  return args ? withRecipe(fn, M, 'compose', args) : fn
}

/** Caption augmentation (synonyms, swaps, deletions) on sample.caption. */
export function augmentCaption(options: CaptionAugmentOptions = {}): Transform {
  return withRecipe(
    (s: Sample, rng: Rng) =>
      s.caption === undefined ? s : { ...s, caption: augmentCaptionText(s.caption, rng, options) },
    M,
    'augmentCaption',
    [options],
  )
}

/**
 * Two augmented views of one image for self-supervised losses (SimSiam), plus, with
 * `caption`, the caption and an augmented copy (DeCLIP's 2 images x 2 texts). Targets that are
 * tied to pixel positions are dropped, since they could match only one view.
 */
export function twoViews(
  view: Transform,
  options: { second?: Transform; caption?: CaptionAugmentOptions } = {},
): Transform {
  const second = options.second ?? view
  const fn = (s: Sample, rng: Rng): Sample => {
    const a = view(s, rng.fork())
    const b = second(s, rng.fork())
    const out: Sample = { image: a.image, views: [a.image, b.image], index: s.index, domain: s.domain }
    if (s.labels) out.labels = s.labels
    if (s.caption !== undefined) {
      out.caption = s.caption
      if (options.caption) out.captionViews = [s.caption, augmentCaptionText(s.caption, rng, options.caption)]
    }
    return out
  }
  if (!view.recipe || !second.recipe) return fn
  return withRecipe(fn, M, 'twoViews', [nested(view.recipe), { ...options, second: nested(second.recipe) }])
}

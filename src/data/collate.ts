// Collate: a list of samples -> one batch of stacked typed arrays with their shapes. Every
// target present in all samples is stacked; objects are padded to the largest count in the
// batch with a `valid` mask, so detection heads see one dense [B, M, ...] layout.

import { imageShape, type ImageCHW, type Sample } from './types'

export interface Stacked<A> {
  data: A
  shape: number[]
}

export interface ObjectBatch {
  /** [B, M, 4] pixel xyxy, zeros where padded. */
  boxes: Stacked<Float32Array>
  /** [B, M], -1 where padded. */
  labels: Stacked<Int32Array>
  visibility: Stacked<Float32Array>
  ignore: Stacked<Uint8Array>
  /** [B, M], 1 for real objects, 0 for padding. */
  valid: Stacked<Uint8Array>
  /** [B] number of real objects per image. */
  counts: Int32Array
  /** [B, M, H, W] when every sample has masks. */
  masks?: Stacked<Uint8Array>
}

export interface Batch {
  size: number
  /** Dataset indices of the samples, -1 when unknown. */
  indices: Int32Array
  /** [B, C, H, W]. */
  images: Stacked<Float32Array>
  /** One [B, C, H, W] per view (twoViews). */
  views?: Stacked<Float32Array>[]
  /** Per label space, [B] class indices. */
  labels?: Record<string, Int32Array>
  objects?: ObjectBatch
  /** [B, H, W]. */
  segmentation?: Stacked<Uint8Array>
  depth?: Stacked<Float32Array>
  depthValid?: Stacked<Uint8Array>
  captions?: string[]
  /** Per caption view, B captions. */
  captionViews?: string[][]
  domains?: string[]
}

function stackImages(fn: string, images: ImageCHW[], what: string): Stacked<Float32Array> {
  const first = images[0]
  const size = first.data.length
  const data = new Float32Array(images.length * size)
  images.forEach((im, i) => {
    if (im.channels !== first.channels || im.height !== first.height || im.width !== first.width) {
      throw new RangeError(
        `${fn}: ${what} ${i} is ${imageShape(im)} but ${what} 0 is ${imageShape(first)}; ` +
          `add a resize or crop transform so that a batch shares one size`,
      )
    }
    if (im.data.length !== size)
      throw new RangeError(`${fn}: ${what} ${i} holds ${im.data.length} values, expected ${size}`)
    data.set(im.data, i * size)
  })
  return { data, shape: [images.length, first.channels, first.height, first.width] }
}

function stackMaps<A extends Uint8Array | Float32Array>(
  maps: A[],
  make: (n: number) => A,
  H: number,
  W: number,
  fn: string,
  what: string,
): Stacked<A> {
  const data = make(maps.length * H * W)
  maps.forEach((m, i) => {
    if (m.length !== H * W)
      throw new RangeError(`${fn}: ${what} of sample ${i} has ${m.length} values, image is ${H}x${W}`)
    data.set(m, i * H * W)
  })
  return { data, shape: [maps.length, H, W] }
}

const all = <K extends keyof Sample>(samples: Sample[], key: K): boolean => samples.every((s) => s[key] !== undefined)

export function collate(samples: Sample[]): Batch {
  const fn = 'collate'
  if (samples.length === 0) throw new RangeError(`${fn}: cannot collate an empty list of samples`)
  const B = samples.length
  const images = stackImages(
    fn,
    samples.map((s) => s.image),
    'image',
  )
  const [, , H, W] = images.shape
  const batch: Batch = { size: B, indices: Int32Array.from(samples, (s) => s.index ?? -1), images }
  if (all(samples, 'views')) {
    const nViews = samples[0].views!.length
    batch.views = Array.from({ length: nViews }, (_, v) =>
      stackImages(
        fn,
        samples.map((s) => s.views![v]),
        `view ${v} of sample`,
      ),
    )
  }
  if (all(samples, 'labels')) {
    const spaces = Object.keys(samples[0].labels!).filter((k) => samples.every((s) => k in s.labels!))
    batch.labels = Object.fromEntries(spaces.map((k) => [k, Int32Array.from(samples, (s) => s.labels![k])]))
  }
  if (all(samples, 'objects')) batch.objects = collateObjects(samples, H, W)
  if (all(samples, 'segmentation'))
    batch.segmentation = stackMaps(
      samples.map((s) => s.segmentation!),
      (n) => new Uint8Array(n),
      H,
      W,
      fn,
      'segmentation',
    )
  if (all(samples, 'depth'))
    batch.depth = stackMaps(
      samples.map((s) => s.depth!),
      (n) => new Float32Array(n),
      H,
      W,
      fn,
      'depth',
    )
  if (all(samples, 'depthValid'))
    batch.depthValid = stackMaps(
      samples.map((s) => s.depthValid!),
      (n) => new Uint8Array(n),
      H,
      W,
      fn,
      'depthValid',
    )
  if (all(samples, 'caption')) batch.captions = samples.map((s) => s.caption!)
  if (all(samples, 'captionViews')) {
    batch.captionViews = samples[0].captionViews!.map((_, v) => samples.map((s) => s.captionViews![v]))
  }
  if (all(samples, 'domain')) batch.domains = samples.map((s) => s.domain!)
  return batch
}

function collateObjects(samples: Sample[], H: number, W: number): ObjectBatch {
  const B = samples.length
  const counts = Int32Array.from(samples, (s) => s.objects!.labels.length)
  const Mx = Math.max(0, ...counts)
  const boxes = new Float32Array(B * Mx * 4)
  const labels = new Int32Array(B * Mx).fill(-1)
  const visibility = new Float32Array(B * Mx)
  const ignore = new Uint8Array(B * Mx)
  const valid = new Uint8Array(B * Mx)
  const withMasks = samples.every((s) => s.objects!.masks !== undefined)
  const plane = H * W
  const masks = withMasks ? new Uint8Array(B * Mx * plane) : undefined
  samples.forEach((s, i) => {
    const o = s.objects!
    const n = counts[i]
    if (o.boxes.length !== 4 * n || o.visibility.length !== n || o.ignore.length !== n) {
      throw new RangeError(
        `collate: objects of sample ${i} are inconsistent: ${n} labels, ${o.boxes.length / 4} boxes, ` +
          `${o.visibility.length} visibilities, ${o.ignore.length} ignore flags`,
      )
    }
    boxes.set(o.boxes, i * Mx * 4)
    labels.set(o.labels, i * Mx)
    visibility.set(o.visibility, i * Mx)
    ignore.set(o.ignore, i * Mx)
    valid.fill(1, i * Mx, i * Mx + n)
    if (masks) {
      if (o.masks!.length !== n * plane)
        throw new RangeError(`collate: masks of sample ${i} hold ${o.masks!.length} values, expected ${n}x${H}x${W}`)
      masks.set(o.masks!, i * Mx * plane)
    }
  })
  const out: ObjectBatch = {
    boxes: { data: boxes, shape: [B, Mx, 4] },
    labels: { data: labels, shape: [B, Mx] },
    visibility: { data: visibility, shape: [B, Mx] },
    ignore: { data: ignore, shape: [B, Mx] },
    valid: { data: valid, shape: [B, Mx] },
    counts,
  }
  if (masks) out.masks = { data: masks, shape: [B, Mx, H, W] }
  return out
}

/** The ArrayBuffers of a batch, to transfer it across threads without copying. */
export function batchBuffers(batch: Batch): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>()
  const add = (a: ArrayBufferView | undefined): void => {
    if (a && a.buffer instanceof ArrayBuffer) out.add(a.buffer)
  }
  add(batch.indices)
  add(batch.images.data)
  batch.views?.forEach((v) => add(v.data))
  if (batch.labels) Object.values(batch.labels).forEach(add)
  if (batch.objects) {
    const o = batch.objects
    ;[o.boxes.data, o.labels.data, o.visibility.data, o.ignore.data, o.valid.data, o.counts, o.masks?.data].forEach(add)
  }
  add(batch.segmentation?.data)
  add(batch.depth?.data)
  add(batch.depthValid?.data)
  return [...out]
}

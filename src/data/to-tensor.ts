// The one bridge from GV-D to the engine: a collated batch of typed arrays -> tensors. Kept in
// its own file (and out of index.ts) so that the data system builds and tests without the engine.

import { tensor } from '../tensor/creation'
import type { Tensor } from '../tensor/tensor'
import type { Batch, Stacked } from './collate'

export interface TensorBatch {
  size: number
  indices: Tensor
  images: Tensor
  views?: Tensor[]
  labels?: Record<string, Tensor>
  objects?: {
    boxes: Tensor
    labels: Tensor
    visibility: Tensor
    ignore: Tensor
    valid: Tensor
    counts: Tensor
    masks?: Tensor
  }
  segmentation?: Tensor
  depth?: Tensor
  depthValid?: Tensor
  captions?: string[]
  captionViews?: string[][]
  domains?: string[]
}

const f32 = (s: Stacked<Float32Array>): Tensor => tensor(s.data, { shape: s.shape, dtype: 'float32' })
const i32 = (s: Stacked<Int32Array>): Tensor => tensor(s.data, { shape: s.shape, dtype: 'int32' })
const bool = (s: Stacked<Uint8Array>): Tensor => tensor(s.data, { shape: s.shape, dtype: 'bool' })

/**
 * Class indices become int32 (segmentation too, since 255 = ignore must survive as a class
 * index for cross-entropy); masks and validity become bool; images, boxes, depth float32.
 */
export function batchToTensors(batch: Batch): TensorBatch {
  const out: TensorBatch = {
    size: batch.size,
    indices: tensor(batch.indices, { shape: [batch.size], dtype: 'int32' }),
    images: f32(batch.images),
  }
  if (batch.views) out.views = batch.views.map(f32)
  if (batch.labels) {
    out.labels = Object.fromEntries(
      Object.entries(batch.labels).map(([k, v]) => [k, tensor(v, { shape: [batch.size], dtype: 'int32' })]),
    )
  }
  if (batch.objects) {
    const o = batch.objects
    out.objects = {
      boxes: f32(o.boxes),
      labels: i32(o.labels),
      visibility: f32(o.visibility),
      ignore: bool(o.ignore),
      valid: bool(o.valid),
      counts: tensor(o.counts, { shape: [batch.size], dtype: 'int32' }),
      ...(o.masks ? { masks: bool(o.masks) } : {}),
    }
  }
  if (batch.segmentation)
    out.segmentation = i32({ data: Int32Array.from(batch.segmentation.data), shape: batch.segmentation.shape })
  if (batch.depth) out.depth = f32(batch.depth)
  if (batch.depthValid) out.depthValid = bool(batch.depthValid)
  if (batch.captions) out.captions = batch.captions
  if (batch.captionViews) out.captionViews = batch.captionViews
  if (batch.domains) out.domains = batch.domains
  return out
}

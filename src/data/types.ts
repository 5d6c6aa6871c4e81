// The sample and dataset shapes shared by every part of GV-D. Everything is plain typed arrays so
// that samples cross worker threads by transfer and the data system never depends on the engine.

import type { LabelSpace, Taxonomy } from './labels'

/** An image in CHW layout, float32 in [0, 1] before normalisation. */
export interface ImageCHW {
  data: Float32Array
  channels: number
  height: number
  width: number
}

/** What every sample has. `index` is the dataset index; `domain` names the visual domain. */
export interface ImageSample {
  image: ImageCHW
  index?: number
  domain?: string
}

/** Image-level labels, possibly from several label spaces at once: space name -> class index. */
export interface ClassificationSample extends ImageSample {
  labels: Record<string, number>
}

/**
 * Objects of one image. Boxes are pixel xyxy (x2, y2 exclusive edges), `n` boxes as 4n floats.
 * `visibility` is the visible fraction of the full (amodal) object, in [0, 1]; `ignore` marks
 * objects that neither count as positives nor as false positives (crowds, heavy occlusion).
 * `masks`, when present, are n visible-instance masks of H*W each.
 */
export interface ObjectAnnotations {
  boxes: Float32Array
  labels: Int32Array
  visibility: Float32Array
  ignore: Uint8Array
  masks?: Uint8Array
}

export interface DetectionSample extends ImageSample {
  objects: ObjectAnnotations
}

/** Per-pixel class index (H*W), IGNORE_INDEX where the class is unknown. */
export interface SegmentationSample extends ImageSample {
  segmentation: Uint8Array
}

/** Per-pixel depth in metres (H*W) and where it was measured (1) or not (0). */
export interface DepthSample extends ImageSample {
  depth: Float32Array
  depthValid: Uint8Array
}

export interface ImageTextSample extends ImageSample {
  caption: string
}

/**
 * Any sample: an image plus whichever targets its dataset provides. Transforms and collate work
 * on this shape and carry along every target that is present.
 * `views` and `captionViews` hold the extra views made by twoViews() for self-supervised losses.
 */
export interface Sample extends ImageSample {
  labels?: Record<string, number>
  objects?: ObjectAnnotations
  segmentation?: Uint8Array
  depth?: Float32Array
  depthValid?: Uint8Array
  caption?: string
  views?: ImageCHW[]
  captionViews?: string[]
}

export const IGNORE_INDEX = 255

export type Task = 'classification' | 'detection' | 'segmentation' | 'depth' | 'imageText'
export type Split = 'train' | 'val' | 'test'

/** A short card: what the data is, how big, under which license, and how it was made. */
export interface DatasetCard {
  name: string
  description: string
  tasks: Task[]
  /** Number of images per split, where known up front. */
  sizes: Partial<Record<Split, number>>
  license: string
  provenance: string
  citation?: string
}

/** How to rebuild an object in another thread: module path, export, structured-cloneable args. */
export interface Recipe {
  module: string
  exportName: string
  args: unknown[]
}

export interface DatasetInfo {
  name: string
  split: string
  tasks: Task[]
  /** Label spaces by name; ClassificationSample.labels and object labels index into these. */
  labelSpaces: Record<string, LabelSpace>
  /** The label space that object labels and segmentation classes refer to, if any. */
  objectLabelSpace?: string
  segmentationLabelSpace?: string
  taxonomy?: Taxonomy
  card?: DatasetCard
}

/** The annotation of one sample without decoding its image, for samplers. */
export type Annotation = Omit<Sample, 'image' | 'views'>

export interface Dataset<T extends ImageSample = Sample> {
  readonly length: number
  readonly info: DatasetInfo
  get(index: number): T | Promise<T>
  /** Cheap access to the targets only (no pixels), when the dataset can give it. */
  annotation?(index: number): Annotation | Promise<Annotation>
  /** Present when a DataLoader worker can rebuild this dataset in its own thread. */
  readonly recipe?: Recipe
}

/** A dataset whose samples and annotations come back synchronously (in-memory data). */
export interface SyncDataset<T extends ImageSample = Sample> extends Dataset<T> {
  get(index: number): T
  annotation(index: number): Annotation
}

export function checkIndex(fn: string, index: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new RangeError(`${fn}: index ${index} is out of range for a dataset of length ${length}`)
  }
}

export function imageShape(image: ImageCHW): string {
  return `${image.channels}x${image.height}x${image.width}`
}

// A detector over given feature maps: FPN neck + FCOS head, with the conveniences a training
// loop and a benchmark need. It takes features, never a backbone, so the same module trains
// with a backbone upstream and on cached frozen features downstream.
import { noGrad } from '../../autograd/grad-mode'
import type { ObjectBatch } from '../../data/collate'
import type { TensorBatch } from '../../data/to-tensor'
import { Module } from '../../nn'
import { scope } from '../../tensor/memory'
import { Tensor } from '../../tensor/tensor'
import { checkBranch, checkChannelList, checkClassCounts, checkFeatures, checkStrides } from './check'
import { FCOSHead, outputLevels, type FCOSHeadOptions, type FCOSOutputs } from './fcos'
import { fcosDecode, type Detections, type FCOSDecodeOptions } from './fcos-decode'
import { fcosLoss, type FCOSLoss } from './fcos-loss'
import { checkObjects, fcosBatchTargets, type FCOSTargetOptions, type ImageObjects } from './fcos-targets'
import { FPN } from './fpn'

export interface DetectorOptions extends Omit<FCOSHeadOptions, 'strides'>, Omit<FCOSTargetOptions, 'numClasses'> {
  /** Stride of each input feature level (Backbone.featureStrides). */
  strides: number[]
  /** Width of the FPN and the head's towers. Default 64 (FCOS uses 256; this is sized for CPU). */
  channels?: number
  /** Coarser levels added after the last input (P6, P7 in FCOS). Default 0. */
  extraLevels?: number
  /** Focal loss alpha and gamma. Defaults 0.25 and 2. */
  alpha?: number
  gamma?: number
}

/** Object annotations of a batch: collate's ObjectBatch, its tensor form, or one ImageObjects per image. */
export type BatchObjects = ObjectBatch | NonNullable<TensorBatch['objects']> | ImageObjects[]

export interface DetectorLossOptions {
  /** Classification branch (source vocabulary) of all images, or one per image. Default 0. */
  branch?: number | ArrayLike<number>
}

const hostArray = <A extends ArrayLike<number>>(v: { data: A } | Tensor): ArrayLike<number> =>
  v instanceof Tensor ? v.data() : v.data

/** Splits padded [B, M, ...] annotations into each image's real objects. */
export function imageObjects(fn: string, objects: BatchObjects): ImageObjects[] {
  if (Array.isArray(objects)) return objects
  if (!objects || typeof objects !== 'object' || !objects.boxes || !objects.labels || !objects.counts)
    throw new Error(
      `${fn}: objects must be an ObjectBatch (collate), its tensor form (batchToTensors) or a list of {boxes, labels, ignore?}`,
    )
  const boxes = hostArray(objects.boxes)
  const labels = hostArray(objects.labels)
  const ignore = objects.ignore ? hostArray(objects.ignore) : null
  const counts = objects.counts instanceof Tensor ? objects.counts.data() : objects.counts
  const B = counts.length
  const M = B > 0 ? labels.length / B : 0
  if (!Number.isInteger(M) || boxes.length !== 4 * B * M || (ignore && ignore.length !== B * M))
    throw new Error(
      `${fn}: objects are not [B, M] padded arrays: ${B} counts, ${labels.length} labels, ${boxes.length / 4} boxes`,
    )
  const slice = (a: ArrayLike<number>, from: number, to: number) => Array.prototype.slice.call(a, from, to) as number[]
  return Array.from({ length: B }, (_, i) => {
    const n = counts[i]
    if (!Number.isInteger(n) || n < 0 || n > M)
      throw new Error(`${fn}: image ${i} claims ${n} objects, padded arrays hold ${M}`)
    return {
      boxes: slice(boxes, 4 * i * M, 4 * (i * M + n)),
      labels: slice(labels, i * M, i * M + n),
      ignore: ignore ? slice(ignore, i * M, i * M + n) : null,
    }
  })
}

export class Detector extends Module {
  readonly inChannels: number[]
  readonly numClasses: number[]
  /** Strides of the FPN levels the head predicts on. */
  readonly strides: number[]
  fpn: FPN
  head: FCOSHead
  readonly #targetOptions: FCOSTargetOptions
  readonly #focal: { alpha?: number; gamma?: number }

  /** numClasses: one count, or one per source vocabulary (a classification branch each). */
  constructor(inChannels: number[], numClasses: number | number[], opts: DetectorOptions) {
    super()
    const fn = 'Detector'
    this.inChannels = checkChannelList(fn, 'inChannels', inChannels)
    checkClassCounts(fn, numClasses)
    if (!opts || !Array.isArray(opts.strides))
      throw new Error(`${fn}: options.strides (Backbone.featureStrides) is required`)
    const inStrides = checkStrides(fn, opts.strides, inChannels.length)
    const extra = opts.extraLevels ?? 0
    if (!Number.isInteger(extra) || extra < 0)
      throw new Error(`${fn}: extraLevels must be a non-negative integer, got ${extra}`)
    this.fpn = new FPN(this.inChannels, opts.channels ?? 64, { levels: inChannels.length + extra })
    this.strides = this.fpn.outStrides(inStrides)
    this.head = new FCOSHead(this.fpn.outChannels, numClasses, {
      strides: this.strides,
      numConvs: opts.numConvs,
      priorProb: opts.priorProb,
    })
    this.numClasses = this.head.numClasses
    this.#targetOptions = { ranges: opts.ranges, centerSampling: opts.centerSampling }
    this.#focal = { alpha: opts.alpha, gamma: opts.gamma }
  }

  override forward(features: Tensor[]): FCOSOutputs {
    return this.head.forward(this.fpn.forward(features))
  }

  /** The FCOS loss of a batch against its annotations (ignore-flagged objects are neither positives nor negatives). */
  loss(features: Tensor[], objects: BatchObjects, opts: DetectorLossOptions = {}): FCOSLoss {
    const fn = 'Detector.loss'
    const N = checkFeatures(fn, features, this.inChannels)[0].shape[0]
    const images = imageObjects(fn, objects)
    if (images.length !== N) throw new Error(`${fn}: ${images.length} images of objects for a feature batch of ${N}`)
    const branch = opts.branch ?? 0
    if (typeof branch !== 'number' && branch?.length !== N)
      throw new Error(`${fn}: branch must be one number or one per image (${N}), got ${branch?.length} values`)
    images.forEach((o, i) => {
      const b = checkBranch(fn, typeof branch === 'number' ? branch : branch[i], this.numClasses.length)
      checkObjects(fn, o, this.numClasses[b], `objects of image ${i}`)
    })
    const outputs = this.forward(features)
    const targets = fcosBatchTargets(outputLevels(fn, outputs), images, this.#targetOptions)
    return fcosLoss(outputs, targets, { branch, ...this.#focal })
  }

  /** Detections per image, without gradients; boxes in input pixels. */
  predict(features: Tensor[], opts: FCOSDecodeOptions = {}): Detections[] {
    return noGrad(() => scope(() => fcosDecode(this.forward(features), opts)))
  }

  override extraRepr(): string {
    return `inChannels=${JSON.stringify(this.inChannels)}, numClasses=${JSON.stringify(this.numClasses)}, strides=${JSON.stringify(this.strides)}`
  }
}

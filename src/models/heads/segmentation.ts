// Semantic segmentation over given feature maps: the dense decoder, a 1x1 classifier per source
// vocabulary, logits upsampled bilinearly to the requested (input) size.
import { crossEntropy, interpolate } from '../../ops'
import { Conv2d, Module, ModuleList } from '../../nn'
import { shapeStr } from '../../tensor/shape'
import { Tensor } from '../../tensor/tensor'
import { checkBranch, checkClassCounts, checkFeatures, checkOutputSize } from './check'
import { DenseDecoder, type DenseDecoderOptions } from './decoder'

export type SegmentationHeadOptions = DenseDecoderOptions

export class SegmentationHead extends Module {
  readonly numClasses: number[]
  decoder: DenseDecoder
  classifiers: ModuleList<Conv2d>

  /** numClasses: one count, or one per source vocabulary (a classifier each over the shared decoder). */
  constructor(inChannels: number[], numClasses: number | number[], opts: SegmentationHeadOptions = {}) {
    super()
    this.decoder = new DenseDecoder(inChannels, opts, 'SegmentationHead')
    this.numClasses = checkClassCounts('SegmentationHead', numClasses)
    this.classifiers = new ModuleList(this.numClasses.map((c) => new Conv2d(this.decoder.channels, c, 1)))
  }

  /** Logits [N, numClasses[branch], H, W] at outputSize [H, W] (the input image's size). */
  override forward(features: Tensor[], outputSize: [number, number], branch = 0): Tensor {
    const b = checkBranch('SegmentationHead', branch, this.numClasses.length)
    return this.#classify(this.#decode(features, outputSize), b, outputSize)
  }

  /** Every branch's logits from one pass through the decoder (for batches mixing sources). */
  forwardAll(features: Tensor[], outputSize: [number, number]): Tensor[] {
    const fused = this.#decode(features, outputSize)
    return this.numClasses.map((_, b) => this.#classify(fused, b, outputSize))
  }

  #decode(features: Tensor[], outputSize: [number, number]): Tensor {
    checkFeatures('SegmentationHead', features, this.decoder.inChannels)
    checkOutputSize('SegmentationHead', outputSize)
    return this.decoder.forward(features)
  }

  #classify(fused: Tensor, branch: number, size: [number, number]): Tensor {
    return interpolate(this.classifiers.get(branch).forward(fused), { size, mode: 'bilinear' })
  }
}

export interface SegmentationLossOptions {
  /** Target value of pixels that count for nothing. Default 255 (GV-D's ignore). */
  ignoreIndex?: number
}

/**
 * Cross-entropy of logits [N, C, H, W] against int32 class maps [N, H, W], averaged over the
 * pixels that are not ignored (0 with a gradient of 0 when every pixel is ignored).
 */
export function segmentationLoss(logits: Tensor, target: Tensor, opts: SegmentationLossOptions = {}): Tensor {
  const fn = 'segmentationLoss'
  const ignoreIndex = opts.ignoreIndex ?? 255
  if (!(logits instanceof Tensor) || logits.ndim !== 4)
    throw new Error(
      `${fn}: logits must be a [N, C, H, W] Tensor, got ${logits instanceof Tensor ? shapeStr(logits.shape) : typeof logits}`,
    )
  if (!(target instanceof Tensor) || target.dtype !== 'int32')
    throw new Error(
      `${fn}: target must be an int32 Tensor of class indices [N, H, W] (batchToTensors gives one), got ${target instanceof Tensor ? target.dtype : typeof target}`,
    )
  const [N, C, H, W] = logits.shape
  if (target.ndim !== 3 || target.shape[0] !== N || target.shape[1] !== H || target.shape[2] !== W)
    throw new Error(
      `${fn}: target ${shapeStr(target.shape)} must be [${N}, ${H}, ${W}] to fit logits ${shapeStr(logits.shape)}`,
    )
  const labels = target.data()
  let counted = 0
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]
    if (c === ignoreIndex) continue
    if (c < 0 || c >= C)
      throw new Error(
        `${fn}: target holds class ${c} at element ${i}, outside [0, ${C}) and not ignoreIndex ${ignoreIndex}`,
      )
    counted++
  }
  return crossEntropy(logits, target, { ignoreIndex, reduction: 'sum' }).div(Math.max(counted, 1))
}

// Monocular depth over given feature maps: the dense decoder, one output channel, upsampled
// bilinearly to the requested (input) size, squashed to (0, maxDepth) by maxDepth * sigmoid,
// so depth is positive and bounded from the first step.
import { interpolate, where } from '../../ops'
import { Conv2d, Module } from '../../nn'
import { shapeStr } from '../../tensor/shape'
import { Tensor } from '../../tensor/tensor'
import { checkFeatures, checkOutputSize } from './check'
import { DenseDecoder, type DenseDecoderOptions } from './decoder'

export interface DepthHeadOptions extends DenseDecoderOptions {
  /** Upper bound of predicted depth, in the targets' unit. Default 20 (GV-D's world stays below 16 m). */
  maxDepth?: number
}

export class DepthHead extends Module {
  readonly maxDepth: number
  decoder: DenseDecoder
  predictor: Conv2d

  constructor(inChannels: number[], opts: DepthHeadOptions = {}) {
    super()
    this.maxDepth = opts.maxDepth ?? 20
    if (!(this.maxDepth > 0) || !Number.isFinite(this.maxDepth))
      throw new Error(`DepthHead: maxDepth must be a positive number, got ${opts.maxDepth}`)
    this.decoder = new DenseDecoder(inChannels, opts, 'DepthHead')
    this.predictor = new Conv2d(this.decoder.channels, 1, 1)
  }

  /** Depth [N, 1, H, W] at outputSize [H, W] (the input image's size). */
  override forward(features: Tensor[], outputSize: [number, number]): Tensor {
    checkFeatures('DepthHead', features, this.decoder.inChannels)
    const size = checkOutputSize('DepthHead', outputSize)
    const raw = this.predictor.forward(this.decoder.forward(features))
    return interpolate(raw, { size, mode: 'bilinear' }).sigmoid().mul(this.maxDepth)
  }
}

/**
 * Masked L1: the mean |pred - depth| over pixels where valid is set (every pixel without a
 * mask); 0 with a gradient of 0 when none is. L1 rather than a scale-invariant log loss,
 * because the benchmark scores RMSE in metres, which a scale-free loss does not fix.
 * pred [N, 1, H, W] or [N, H, W]; depth [N, H, W]; valid bool/uint8/float [N, H, W].
 */
export function depthLoss(pred: Tensor, depth: Tensor, valid?: Tensor | null): Tensor {
  const fn = 'depthLoss'
  if (!(pred instanceof Tensor) || !(depth instanceof Tensor)) throw new Error(`${fn}: pred and depth must be Tensors`)
  const p = pred.ndim === 4 && pred.shape[1] === 1 ? pred.reshape([pred.shape[0], pred.shape[2], pred.shape[3]]) : pred
  if (p.ndim !== 3 || depth.ndim !== 3 || p.shape.some((s, i) => s !== depth.shape[i]))
    throw new Error(
      `${fn}: pred ${shapeStr(pred.shape)} must be [N, 1, H, W] or [N, H, W] matching depth ${shapeStr(depth.shape)} [N, H, W]`,
    )
  if (depth.dtype !== pred.dtype) throw new Error(`${fn}: depth is ${depth.dtype} but pred is ${pred.dtype}`)
  if (
    valid != null &&
    (!(valid instanceof Tensor) || valid.shape.length !== 3 || valid.shape.some((s, i) => s !== depth.shape[i]))
  )
    throw new Error(
      `${fn}: valid must be a Tensor shaped like depth ${shapeStr(depth.shape)}, got ${valid instanceof Tensor ? shapeStr(valid.shape) : typeof valid}`,
    )
  const d = depth.data()
  const v = valid ? valid.data() : null
  let counted = 0
  for (let i = 0; i < d.length; i++) {
    if (v && !v[i]) continue
    if (!Number.isFinite(d[i])) throw new Error(`${fn}: depth at element ${i} is ${d[i]} where valid is set`)
    counted++
  }
  // where, not a multiply: unmeasured pixels may hold NaN, and NaN * 0 is NaN
  const err = p.sub(depth).abs()
  return (valid ? where(valid, err, 0) : err).sum().div(Math.max(counted, 1))
}

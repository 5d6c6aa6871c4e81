// What every MetaNet block is built from: its place in the network, the shortcut used when
// the shape changes, and conversions between feature maps and tokens.
import type { Tensor } from '../../tensor/tensor'
import { Conv2d, MaxPool2d, Sequential } from '../../nn'
import { convParams } from '../layers/count'

export interface BlockSpec {
  inChannels: number
  outChannels: number
  stride: number
  /** Hidden width = floor(inChannels * expansion). */
  expansion: number
  headDim: number
  dropPath: number
  layerScaleInit: number
}

export const hiddenWidthOf = (s: BlockSpec): number => Math.floor(s.inChannels * s.expansion)

export const changesShape = (s: BlockSpec): boolean => s.stride !== 1 || s.inChannels !== s.outChannels

/**
 * 3x3 max-pool (with the block's stride) then a 1x1 conv to the new width: the shortcut of a block that changes shape.
 */
export function projectionShortcut(s: BlockSpec): Sequential {
  return new Sequential(new MaxPool2d(3, { stride: s.stride, padding: 1 }), new Conv2d(s.inChannels, s.outChannels, 1))
}

export const projectionShortcutParams = (s: BlockSpec): number =>
  changesShape(s) ? convParams(s.inChannels, s.outChannels, 1) : 0

/** [N, C, H, W] -> tokens [N, H*W, C]. */
export const toTokens = (x: Tensor): Tensor => x.flatten(2).transpose(1, 2)

/** Tokens [N, H*W, C] -> [N, C, H, W]. */
export function toMap(t: Tensor, h: number, w: number): Tensor {
  const [N, , C] = t.shape
  return t.transpose(1, 2).reshape([N, C, h, w])
}

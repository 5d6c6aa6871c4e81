// Argument checks shared by the heads: every head takes a list of multi-scale feature maps
// (what Backbone.forwardFeatures returns), described by their channels and strides.
import { isFloating } from '../../tensor/dtype'
import { shapeStr } from '../../tensor/shape'
import { Tensor } from '../../tensor/tensor'

export function checkChannelList(fn: string, arg: string, channels: unknown): number[] {
  if (!Array.isArray(channels) || channels.length === 0 || !channels.every((c) => Number.isInteger(c) && c > 0))
    throw new Error(`${fn}: ${arg} must be a non-empty list of positive integers, got ${JSON.stringify(channels)}`)
  return [...channels]
}

export function checkStrides(fn: string, strides: unknown, levels: number): number[] {
  if (!Array.isArray(strides) || strides.length !== levels || !strides.every((s) => Number.isInteger(s) && s > 0))
    throw new Error(
      `${fn}: strides must list one positive integer per feature level (${levels}), got ${JSON.stringify(strides)}`,
    )
  return [...strides]
}

/** One class count, or one per source vocabulary (each classification branch). */
export function checkClassCounts(fn: string, numClasses: unknown): number[] {
  const counts = typeof numClasses === 'number' ? [numClasses] : numClasses
  if (!Array.isArray(counts) || counts.length === 0 || !counts.every((c) => Number.isInteger(c) && c > 0))
    throw new Error(
      `${fn}: numClasses must be a positive integer or a non-empty list of them, got ${JSON.stringify(numClasses)}`,
    )
  return [...counts]
}

export function checkBranch(fn: string, branch: unknown, branches: number): number {
  if (!Number.isInteger(branch) || (branch as number) < 0 || (branch as number) >= branches)
    throw new Error(
      `${fn}: branch (source vocabulary) must be an integer in [0, ${branches}), got ${JSON.stringify(branch)}`,
    )
  return branch as number
}

/** Feature maps [N, C_i, H_i, W_i], one per level, with the expected channels and one batch size. */
export function checkFeatures(fn: string, features: unknown, channels: readonly number[]): Tensor[] {
  if (!Array.isArray(features) || features.length !== channels.length)
    throw new Error(
      `${fn}: expected ${channels.length} feature maps (channels ${JSON.stringify(channels)}), got ${Array.isArray(features) ? features.length : typeof features}`,
    )
  const N = features[0] instanceof Tensor ? features[0].shape[0] : -1
  features.forEach((f, i) => {
    if (!(f instanceof Tensor)) throw new Error(`${fn}: feature ${i} must be a Tensor`)
    if (!isFloating(f.dtype)) throw new Error(`${fn}: feature ${i} must be floating-point, got ${f.dtype}`)
    if (f.ndim !== 4 || f.shape[1] !== channels[i] || f.shape[0] !== N)
      throw new Error(`${fn}: feature ${i} must be [${N}, ${channels[i]}, H, W], got ${shapeStr(f.shape)}`)
  })
  return features as Tensor[]
}

export function checkOutputSize(fn: string, size: unknown): [number, number] {
  if (!Array.isArray(size) || size.length !== 2 || !size.every((s) => Number.isInteger(s) && s > 0))
    throw new Error(`${fn}: outputSize must be [height, width] in pixels, got ${JSON.stringify(size)}`)
  return [size[0], size[1]]
}

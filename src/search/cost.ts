// Analytic cost of a MetaNet: parameters (countParameters) and multiply-accumulates (MACs) of
// every conv, linear and attention product at a given input size, block by block, following
// the block implementations in src/models/metanet. Normalisation, activations, pooling, the
// squeeze-excitation gate's multiply and residual adds are left out, as FLOP counters of the
// NAS literature (and the published MetaNet figures) do. "FLOPs" in this project means MACs:
// MN-B4 at 224 px with a 1000-class head counts 3.168G here against the published 3.17 GFLOPs
// (test/search/cost.test.ts); twice the MACs would give 6.34G.
import { countParameters, planBlocks } from '../models/metanet/metanet'
import { changesShape, hiddenWidthOf, type BlockSpec } from '../models/metanet/blocks'
import { makeDivisible } from '../models/metanet/conv-blocks'
import { validateConfig, type BlockType, type MetaNetConfig } from '../models/metanet/config'

/** Output side of a 3x3 conv or max-pool with padding 1 and this stride. */
export const strided = (side: number, stride: number): number => Math.floor((side - 1) / stride) + 1

/** A conv's MACs: one multiply-add per weight per output pixel. */
export const convMacs = (cin: number, cout: number, k: number, outPixels: number, groups = 1): number =>
  (cin / groups) * cout * k * k * outPixels

const squeezeExcitationMacs = (c: number): number => 2 * c * makeDivisible(Math.floor(c / 4))

/** MACs of one block on an h x w input. */
export function blockMacs(type: BlockType, spec: BlockSpec, h: number, w: number): number {
  const { inChannels: cin, outChannels: cout, stride } = spec
  const hidden = hiddenWidthOf(spec)
  const inPixels = h * w
  const outPixels = strided(h, stride) * strided(w, stride)
  const shortcut = changesShape(spec) ? convMacs(cin, cout, 1, outPixels) : 0
  if (type === 'mbconv') {
    const expand = cin !== hidden || stride !== 1 ? convMacs(cin, hidden, 1, inPixels) : 0
    return (
      shortcut +
      expand +
      convMacs(hidden, hidden, 3, outPixels, hidden) +
      squeezeExcitationMacs(hidden) +
      convMacs(hidden, cout, 1, outPixels)
    )
  }
  if (type === 'fusedMbconv') {
    // Without expansion the 3x3 conv (with the stride) is the projection, after SE at the input size.
    if (cin === hidden) return shortcut + squeezeExcitationMacs(hidden) + convMacs(hidden, cout, 3, outPixels)
    return (
      shortcut +
      convMacs(cin, hidden, 3, outPixels) +
      squeezeExcitationMacs(hidden) +
      convMacs(hidden, cout, 1, outPixels)
    )
  }
  // Attention blocks: the conv position embedding runs at the input size; a block that changes
  // shape attends over the max-pooled tokens and has no MLP.
  const posEmbed = convMacs(cin, cin, 3, inPixels, cin)
  const tokens = changesShape(spec) ? outPixels : inPixels
  // SA: q k^T and attn v, each tokens^2 x head dim per head. XCA: q^T k and attn v^T, each
  // tokens x head dim^2 per head: linear in the tokens.
  const mixing = type === 'sa' ? 2 * tokens * tokens * cin : 2 * tokens * cin * spec.headDim
  const attention = tokens * cin * 3 * cin + mixing + tokens * cin * cout
  const mlp = changesShape(spec) ? 0 : 2 * tokens * cin * hidden
  return shortcut + posEmbed + attention + mlp
}

export interface MacsBreakdown {
  stem: number
  /** One entry per block, in order. */
  blocks: number[]
  /** 1x1 head conv and the classifier. */
  head: number
  total: number
}

function checkSize(fn: string, imageSize: number): void {
  if (!Number.isInteger(imageSize) || imageSize < 1)
    throw new RangeError(`${fn}: imageSize must be a positive integer, got ${imageSize}`)
}

/** MACs of a forward pass of one imageSize x imageSize image. */
export function countMacs(config: MetaNetConfig, imageSize: number): MacsBreakdown {
  checkSize('countMacs', imageSize)
  const c = validateConfig(config)
  let side = strided(imageSize, 2)
  const stem = convMacs(c.inChannels, c.stemWidth, 3, side * side)
  const blocks = planBlocks(c).map((b) => {
    const macs = blockMacs(b.type, b.spec, side, side)
    side = strided(side, b.spec.stride)
    return macs
  })
  const last = c.stages[c.stages.length - 1].channels
  const head = convMacs(last, c.headWidth, 1, side * side) + c.headWidth * c.numClasses
  return { stem, blocks, head, total: stem + blocks.reduce((a, b) => a + b, 0) + head }
}

export interface AnalyticCost {
  params: number
  /** Multiply-accumulates per image: this project's FLOPs. */
  macs: number
}

export function analyticCost(config: MetaNetConfig, imageSize: number): AnalyticCost {
  return { params: countParameters(config), macs: countMacs(config, imageSize).total }
}

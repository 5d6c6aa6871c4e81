// The knowledge-transfer modules of Up-G (intern-facts.md, "Upstream-Generalist"): T carries an
// auxiliary expert's stage output into a stage of the main branch. At the start every T gives
// exact zeros, so a generalist begins as its main expert and learns what to take from the others.
import { BatchNorm2d, Conv2d, Module, ReLU, Sequential, init } from '../nn'
import { interpolate } from '../ops'
import { shapeStr } from '../tensor/shape'
import type { Tensor } from '../tensor/tensor'
import type { Backbone } from '../models/zoo'

/** A backbone that can be run stage by stage (MetaNet and ResNet are). */
export interface StagedBackbone extends Backbone {
  readonly stageCount: number
  readonly stageChannels: number[]
  readonly stageStrides: number[]
  /** The stages whose outputs forwardFeatures returns, in order. */
  readonly featureStages: number[]
  forwardStem(x: Tensor): Tensor
  forwardStage(i: number, y: Tensor): Tensor
  /** The pooled feature from the last stage's output. */
  forwardHead(y: Tensor): Tensor
}

export function isStagedBackbone(b: Backbone): b is StagedBackbone {
  const s = b as unknown as Partial<StagedBackbone>
  return (
    typeof s.forwardStage === 'function' &&
    typeof s.forwardStem === 'function' &&
    typeof s.forwardHead === 'function' &&
    Array.isArray(s.featureStages)
  )
}

/**
 * The main-branch stages that receive transfers: those of every feature level but the last
 * (ResNet: layer1-3; MetaNet with outStages 1, 2, 4, 5: stages 1, 2 and 4). Stage k of this list
 * receives the auxiliary outputs at positions j <= k of the same list.
 */
export function transferStages(b: StagedBackbone): number[] {
  return b.featureStages.slice(0, -1)
}

/** The last BN of a transfer starts at gamma = beta = 0: T outputs exact zeros until it learns. */
function zeroNorm(channels: number): BatchNorm2d {
  const bn = new BatchNorm2d(channels)
  init.zeros_(bn.weight as Tensor)
  init.zeros_(bn.bias as Tensor)
  return bn
}

function smallConv(cin: number, cout: number, kernel: number, stride: number): Conv2d {
  const conv = new Conv2d(cin, cout, kernel, { stride, padding: (kernel - 1) / 2, bias: false })
  init.normal_(conv.weight, 0, 1e-3)
  return conv
}

/**
 * T_j for a source of stride `srcStride` and a target of stride `dstStride`: a 1x1 conv + BN
 * (then nearest upsampling to the target's size) when the source is at the target's resolution
 * or coarser; a chain of stride-2 3x3 conv + BN (+ ReLU between links) when it is finer. Only the
 * chain's last BN starts at zero: zeroing every link would leave the inner ones without gradient.
 */
export class Transfer extends Module {
  readonly upsample: boolean
  layers: Sequential

  constructor(cin: number, cout: number, srcStride: number, dstStride: number) {
    super()
    const ratio = dstStride / srcStride
    const links = Math.log2(ratio)
    if (ratio > 1 && !Number.isInteger(links))
      throw new Error(
        `Transfer: a source of stride ${srcStride} cannot reach a target of stride ${dstStride} by stride-2 convs`,
      )
    this.upsample = ratio < 1
    if (ratio <= 1) {
      this.layers = new Sequential(smallConv(cin, cout, 1, 1), zeroNorm(cout))
    } else {
      const chain: Module[] = []
      for (let i = 0; i < links - 1; i++) chain.push(smallConv(cin, cin, 3, 2), new BatchNorm2d(cin), new ReLU())
      chain.push(smallConv(cin, cout, 3, 2), zeroNorm(cout))
      this.layers = new Sequential(...chain)
    }
  }

  /** The source feature carried to a target map of spatial size `size`. */
  override forward(x: Tensor, size: [number, number]): Tensor {
    let y = this.layers.forward(x)
    if (this.upsample) y = interpolate(y, { size, mode: 'nearest' })
    if (y.shape[2] !== size[0] || y.shape[3] !== size[1])
      throw new Error(
        `Transfer: the source ${shapeStr(x.shape)} gives ${shapeStr(y.shape)}, which does not fit the target's ${size[0]}x${size[1]}`,
      )
    return y
  }
}

/**
 * The transfers from one auxiliary backbone into the main one: for each receiving stage k (see
 * transferStages), one Transfer per auxiliary position j <= k, stored in (k, j) order.
 */
export class TransferSet extends Module {
  readonly pairs: [number, number][] = []
  transfers: Sequential

  constructor(aux: StagedBackbone, main: StagedBackbone) {
    super()
    const src = transferStages(aux)
    const dst = transferStages(main)
    if (src.length !== dst.length)
      throw new Error(
        `TransferSet: the auxiliary backbone has ${src.length} transfer stages, the main one ${dst.length}`,
      )
    const modules: Transfer[] = []
    dst.forEach((d, k) => {
      for (let j = 0; j <= k; j++) {
        const s = src[j]
        modules.push(
          new Transfer(aux.stageChannels[s], main.stageChannels[d], aux.stageStrides[s], main.stageStrides[d]),
        )
        this.pairs.push([k, j])
      }
    })
    this.transfers = new Sequential(...modules)
  }

  /** The sum over j <= k of T_jk(auxFeatures[j]), for receiving stage position k. */
  into(k: number, auxFeatures: Tensor[], size: [number, number]): Tensor {
    const modules = this.transfers.children() as Transfer[]
    let sum: Tensor | null = null
    this.pairs.forEach(([pk, j], i) => {
      if (pk !== k) return
      const t = modules[i].forward(auxFeatures[j], size)
      sum = sum === null ? t : sum.add(t)
    })
    return sum as unknown as Tensor
  }
}

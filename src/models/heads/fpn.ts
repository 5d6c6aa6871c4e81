// Feature pyramid network (Lin et al. 2017), as torchvision's FeaturePyramidNetwork: a 1x1
// lateral conv per level, a top-down path adding each coarser level upsampled (nearest), and a
// 3x3 output conv per level; optional extra coarser levels by stride-2 3x3 convs on the
// coarsest output (RetinaNet/FCOS's P6, P7, a ReLU before each after the first).
import { interpolate } from '../../ops'
import { Conv2d, init, Module, ModuleList } from '../../nn'
import type { Tensor } from '../../tensor/tensor'
import { checkChannelList, checkFeatures } from './check'

export interface FPNOptions {
  /** Output levels in all; beyond the inputs' count, extra levels halve the resolution each. Default: one per input. */
  levels?: number
}

/** torchvision's FPN init: kaiming uniform with a = 1, zero bias. */
function fpnConv(cin: number, cout: number, kernel: number, stride = 1): Conv2d {
  const conv = new Conv2d(cin, cout, kernel, { stride, padding: kernel >> 1 })
  init.kaimingUniform_(conv.weight, { a: 1 })
  init.zeros_(conv.bias!)
  return conv
}

export class FPN extends Module {
  readonly inChannels: number[]
  readonly outChannels: number
  readonly levels: number
  inner: ModuleList<Conv2d>
  layer: ModuleList<Conv2d>
  extra: ModuleList<Conv2d>

  constructor(inChannels: number[], outChannels: number, opts: FPNOptions = {}) {
    super()
    const fn = 'FPN'
    this.inChannels = checkChannelList(fn, 'inChannels', inChannels)
    if (!Number.isInteger(outChannels) || outChannels < 1)
      throw new Error(`${fn}: outChannels must be a positive integer, got ${outChannels}`)
    this.outChannels = outChannels
    this.levels = opts.levels ?? inChannels.length
    if (!Number.isInteger(this.levels) || this.levels < inChannels.length)
      throw new Error(
        `${fn}: levels must be an integer >= the number of inputs (${inChannels.length}), got ${opts.levels}`,
      )
    this.inner = new ModuleList(this.inChannels.map((c) => fpnConv(c, outChannels, 1)))
    this.layer = new ModuleList(this.inChannels.map(() => fpnConv(outChannels, outChannels, 3)))
    this.extra = new ModuleList(
      Array.from({ length: this.levels - inChannels.length }, () => fpnConv(outChannels, outChannels, 3, 2)),
    )
  }

  /** Strides of the outputs, given the inputs' strides (each extra level doubles the last). */
  outStrides(inStrides: readonly number[]): number[] {
    const out = [...inStrides]
    while (out.length < this.levels) out.push(out[out.length - 1] * 2)
    return out
  }

  /** Feature maps, finest first -> `levels` maps of outChannels, finest first. */
  override forward(features: Tensor[]): Tensor[] {
    const xs = checkFeatures('FPN', features, this.inChannels)
    const L = xs.length
    const outs: Tensor[] = new Array(L)
    let top = this.inner.get(L - 1).forward(xs[L - 1])
    outs[L - 1] = this.layer.get(L - 1).forward(top)
    for (let i = L - 2; i >= 0; i--) {
      const lateral = this.inner.get(i).forward(xs[i])
      top = lateral.add(interpolate(top, { size: [lateral.shape[2], lateral.shape[3]], mode: 'nearest' }))
      outs[i] = this.layer.get(i).forward(top)
    }
    let last = outs[L - 1]
    this.extra.children().forEach((conv, k) => {
      last = (conv as Conv2d).forward(k === 0 ? last : last.relu())
      outs.push(last)
    })
    return outs
  }

  override extraRepr(): string {
    return `inChannels=${JSON.stringify(this.inChannels)}, outChannels=${this.outChannels}, levels=${this.levels}`
  }
}

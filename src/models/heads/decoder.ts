// The dense decoder shared by the segmentation and depth heads: FPN-style fusion of every level
// into the finest (a 1x1 lateral conv per level, each coarser sum upsampled bilinearly and added
// to the next finer lateral), then 3x3 conv + GroupNorm + ReLU layers at the finest resolution.
import { interpolate } from '../../ops'
import { Conv2d, Module, ModuleList, Sequential } from '../../nn'
import type { Tensor } from '../../tensor/tensor'
import { checkChannelList, checkFeatures } from './check'
import { convGnRelu } from './layers'

export interface DenseDecoderOptions {
  /** Width of the fused map. Default 64. */
  channels?: number
  /** 3x3 conv layers after the fusion. Default 2. */
  numConvs?: number
}

export class DenseDecoder extends Module {
  readonly inChannels: number[]
  readonly channels: number
  lateral: ModuleList<Conv2d>
  fuse: Sequential

  /** fn names the head that builds it, for error messages. */
  constructor(inChannels: number[], opts: DenseDecoderOptions = {}, fn = 'DenseDecoder') {
    super()
    this.inChannels = checkChannelList(fn, 'inChannels', inChannels)
    const channels = opts.channels ?? 64
    const numConvs = opts.numConvs ?? 2
    if (!Number.isInteger(channels) || channels < 1)
      throw new Error(`${fn}: channels must be a positive integer, got ${channels}`)
    if (!Number.isInteger(numConvs) || numConvs < 0)
      throw new Error(`${fn}: numConvs must be a non-negative integer, got ${numConvs}`)
    this.channels = channels
    this.lateral = new ModuleList(this.inChannels.map((c) => new Conv2d(c, channels, 1)))
    this.fuse = new Sequential(
      ...convGnRelu(channels, numConvs, () => new Conv2d(channels, channels, 3, { padding: 1, bias: false })),
    )
  }

  /** Feature maps, finest first -> [N, channels, H_0, W_0] at the finest level's resolution. */
  override forward(features: Tensor[]): Tensor {
    const xs = checkFeatures('DenseDecoder', features, this.inChannels)
    let fused = this.lateral.get(xs.length - 1).forward(xs[xs.length - 1])
    for (let i = xs.length - 2; i >= 0; i--) {
      const lateral = this.lateral.get(i).forward(xs[i])
      fused = lateral.add(interpolate(fused, { size: [lateral.shape[2], lateral.shape[3]], mode: 'bilinear' }))
    }
    return this.fuse.forward(fused)
  }

  override extraRepr(): string {
    return `inChannels=${JSON.stringify(this.inChannels)}, channels=${this.channels}`
  }
}

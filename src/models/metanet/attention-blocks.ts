// MetaNet's attention blocks, on feature maps [N, C, H, W] in and out. Position comes from a
// depthwise 3x3 conv added to the input ("conv embedding"; no relative-position bias); each
// branch is scaled by a per-channel layer scale starting at layerScaleInit. A block that
// changes shape (the first of a stage) max-pools the normalised tokens, attends without an
// MLP, and adds a max-pool + 1x1 conv shortcut. SABlock uses softmax self-attention;
// XCABlock uses XCiT's cross-covariance attention. Names follow the authors' released code.
import { shapeStr } from '../../tensor/shape'
import type { Tensor } from '../../tensor/tensor'
import {
  Conv2d,
  DropPath,
  LayerNorm,
  MaxPool2d,
  Module,
  Sequential,
  init,
  newParameter,
  type Parameter,
} from '../../nn'
import { normalize } from '../../ops'
import { SelfAttention } from '../layers/attention'
import { convParams, normParams } from '../layers/count'
import { Mlp } from '../layers/mlp'
import {
  changesShape,
  hiddenWidthOf,
  projectionShortcut,
  projectionShortcutParams,
  toMap,
  toTokens,
  type BlockSpec,
} from './blocks'

/**
 * Cross-covariance attention (XCiT): attention between channels rather than tokens. Per head,
 * q and k are L2-normalised along the tokens, and softmax(temperature * q^T k) [d, d] mixes
 * the channels of v. Linear in the number of tokens.
 */
export class CrossCovarianceAttention extends SelfAttention {
  /** One learnable temperature per head, starting at 1. */
  temperature: Parameter

  constructor(dim: number, numHeads: number, opts: { outDim?: number; qkvBias?: boolean } = {}) {
    super(dim, numHeads, opts)
    this.temperature = init.ones_(newParameter([numHeads, 1, 1]))
  }

  static override countParameters(dim: number, outDim = dim, qkvBias = true, numHeads = 1): number {
    return SelfAttention.countParameters(dim, outDim, qkvBias) + numHeads
  }

  override forward(x: Tensor): Tensor {
    const [q, k, v] = this.splitHeads(x) // [N, heads, L, d]
    const qn = normalize(q, { dim: 2 })
    const kn = normalize(k, { dim: 2 })
    const attn = qn.transpose(-2, -1).matmul(kn).mul(this.temperature).softmax(-1) // [N, heads, d, d]
    const o = v.matmul(attn.transpose(-2, -1)) // [N, heads, L, d] = (attn v^T)^T
    const [N, L] = x.shape
    return this.proj_drop.forward(this.proj.forward(o.permute([0, 2, 1, 3]).reshape([N, L, this.dim])))
  }
}

abstract class AttentionBlock extends Module {
  readonly downsamples: boolean
  norm1: LayerNorm
  pos_embed: Conv2d
  attn: SelfAttention
  ds: MaxPool2d | null = null
  residual: Sequential | null = null
  gamma_1: Parameter
  gamma_2: Parameter | null = null
  norm2: LayerNorm | null = null
  mlp: Mlp | null = null
  drop_path: DropPath

  protected abstract makeAttention(dim: number, heads: number, outDim: number): SelfAttention

  constructor(readonly spec: BlockSpec) {
    super()
    const { inChannels: cin, outChannels: cout } = spec
    this.downsamples = changesShape(spec)
    this.norm1 = new LayerNorm(cin)
    this.pos_embed = new Conv2d(cin, cin, 3, { padding: 1, groups: cin })
    this.attn = this.makeAttention(cin, cin / spec.headDim, cout)
    const scale = () => init.constant_(newParameter([cout]), spec.layerScaleInit)
    if (this.downsamples) {
      this.ds = new MaxPool2d(3, { stride: spec.stride, padding: 1 })
      this.residual = projectionShortcut(spec)
      this.gamma_1 = scale()
    } else {
      this.norm2 = new LayerNorm(cin)
      this.mlp = new Mlp(cin, hiddenWidthOf(spec))
      this.gamma_1 = scale()
      this.gamma_2 = scale()
    }
    this.drop_path = new DropPath(spec.dropPath)
  }

  /** Parameters of everything but the attention itself. */
  protected static countShared(spec: BlockSpec): number {
    const { inChannels: cin, outChannels: cout } = spec
    const common = normParams(cin) + convParams(cin, cin, 3, { groups: cin })
    if (changesShape(spec)) return common + projectionShortcutParams(spec) + cout
    return common + normParams(cin) + Mlp.countParameters(cin, hiddenWidthOf(spec)) + 2 * cout
  }

  override forward(x: Tensor): Tensor {
    const { inChannels: cin } = this.spec
    if (x.ndim !== 4 || x.shape[1] !== cin)
      throw new Error(`${this.constructor.name}: expected [N, ${cin}, H, W], got ${shapeStr(x.shape)}`)
    const [, , H, W] = x.shape
    const xp = x.add(this.pos_embed.forward(x))
    if (this.downsamples) {
      const shortcut = (this.residual as Sequential).forward(xp)
      const [, , h, w] = shortcut.shape
      const pooled = (this.ds as MaxPool2d).forward(toMap(this.norm1.forward(toTokens(xp)), H, W))
      const y = this.attn.forward(toTokens(pooled)).mul(this.gamma_1)
      return shortcut.add(toMap(y, h, w))
    }
    let t = toTokens(xp)
    t = t.add(this.drop_path.forward(this.attn.forward(this.norm1.forward(t)).mul(this.gamma_1)))
    t = t.add(
      this.drop_path.forward(
        (this.mlp as Mlp).forward((this.norm2 as LayerNorm).forward(t)).mul(this.gamma_2 as Parameter),
      ),
    )
    return toMap(t, H, W)
  }
}

export class SABlock extends AttentionBlock {
  protected makeAttention(dim: number, heads: number, outDim: number): SelfAttention {
    return new SelfAttention(dim, heads, { outDim })
  }

  static countParameters(spec: BlockSpec): number {
    return AttentionBlock.countShared(spec) + SelfAttention.countParameters(spec.inChannels, spec.outChannels)
  }
}

export class XCABlock extends AttentionBlock {
  protected makeAttention(dim: number, heads: number, outDim: number): SelfAttention {
    return new CrossCovarianceAttention(dim, heads, { outDim })
  }

  static countParameters(spec: BlockSpec): number {
    const heads = spec.inChannels / spec.headDim
    return (
      AttentionBlock.countShared(spec) +
      CrossCovarianceAttention.countParameters(spec.inChannels, spec.outChannels, true, heads)
    )
  }
}

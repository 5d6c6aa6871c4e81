// The pre-norm transformer block shared by ViT and the text encoder (timm's Block names:
// norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2).
import type { Tensor } from '../../tensor/tensor'
import { DropPath, LayerNorm, Module } from '../../nn'
import { normParams } from './count'
import { Mlp } from './mlp'
import { SelfAttention } from './attention'

export interface BlockOptions {
  mlpRatio?: number
  qkvBias?: boolean
  drop?: number
  attnDrop?: number
  dropPath?: number
  /** LayerNorm epsilon (timm's ViT uses 1e-6). */
  eps?: number
}

export class Block extends Module {
  norm1: LayerNorm
  attn: SelfAttention
  drop_path: DropPath
  norm2: LayerNorm
  mlp: Mlp

  constructor(dim: number, numHeads: number, opts: BlockOptions = {}) {
    super()
    const eps = opts.eps ?? 1e-6
    this.norm1 = new LayerNorm(dim, { eps })
    this.attn = new SelfAttention(dim, numHeads, {
      qkvBias: opts.qkvBias ?? true,
      attnDrop: opts.attnDrop,
      projDrop: opts.drop,
    })
    this.drop_path = new DropPath(opts.dropPath ?? 0)
    this.norm2 = new LayerNorm(dim, { eps })
    this.mlp = new Mlp(dim, Math.floor(dim * (opts.mlpRatio ?? 4)), dim, opts.drop ?? 0)
  }

  static countParameters(dim: number, mlpRatio = 4, qkvBias = true): number {
    return (
      2 * normParams(dim) +
      SelfAttention.countParameters(dim, dim, qkvBias) +
      Mlp.countParameters(dim, Math.floor(dim * mlpRatio))
    )
  }

  /** x [N, L, dim]; attnMask broadcastable to [N, heads, L, L], true = may attend. */
  override forward(x: Tensor, attnMask: Tensor | null = null): Tensor {
    const y = x.add(this.drop_path.forward(this.attn.forward(this.norm1.forward(x), attnMask)))
    return y.add(this.drop_path.forward(this.mlp.forward(this.norm2.forward(y))))
  }
}

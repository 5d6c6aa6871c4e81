// Multi-head self-attention over tokens [N, L, C] with timm's layout (one `qkv` Linear, then
// `proj`), on the fused scaled-dot-product kernel. The output width may differ from the
// input's (MetaNet's downsampling blocks widen the channels in `proj`).
import type { Tensor } from '../../tensor/tensor'
import { shapeStr } from '../../tensor/shape'
import { Dropout, Linear, Module } from '../../nn'
import { scaledDotProductAttention } from '../../ops'
import { linearParams } from './count'

export interface SelfAttentionOptions {
  outDim?: number
  qkvBias?: boolean
  attnDrop?: number
  projDrop?: number
}

export class SelfAttention extends Module {
  readonly numHeads: number
  readonly headDim: number
  readonly attnDrop: number
  qkv: Linear
  proj: Linear
  proj_drop: Dropout

  constructor(
    readonly dim: number,
    numHeads: number,
    opts: SelfAttentionOptions = {},
  ) {
    super()
    if (!Number.isInteger(numHeads) || numHeads < 1 || dim % numHeads)
      throw new Error(`SelfAttention: numHeads ${numHeads} must be a positive integer dividing dim ${dim}`)
    this.numHeads = numHeads
    this.headDim = dim / numHeads
    this.attnDrop = opts.attnDrop ?? 0
    this.qkv = new Linear(dim, 3 * dim, { bias: opts.qkvBias ?? true })
    this.proj = new Linear(dim, opts.outDim ?? dim)
    this.proj_drop = new Dropout(opts.projDrop ?? 0)
  }

  static countParameters(dim: number, outDim = dim, qkvBias = true): number {
    return linearParams(dim, 3 * dim, qkvBias) + linearParams(dim, outDim)
  }

  /** [q, k, v], each [N, heads, L, headDim]. */
  protected splitHeads(x: Tensor): [Tensor, Tensor, Tensor] {
    if (x.ndim !== 3 || x.shape[2] !== this.dim)
      throw new Error(`${this.constructor.name}: expected tokens [N, L, ${this.dim}], got ${shapeStr(x.shape)}`)
    const [N, L] = x.shape
    const qkv = this.qkv.forward(x).reshape([N, L, 3, this.numHeads, this.headDim]).permute([2, 0, 3, 1, 4])
    return [qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2)]
  }

  /** attnMask: broadcastable to [N, heads, L, L], true where a query may attend to a key. */
  override forward(x: Tensor, attnMask: Tensor | null = null): Tensor {
    const [q, k, v] = this.splitHeads(x)
    const o = scaledDotProductAttention(q, k, v, { attnMask, dropoutP: this.training ? this.attnDrop : 0 })
    const [N, L] = x.shape
    return this.proj_drop.forward(this.proj.forward(o.permute([0, 2, 1, 3]).reshape([N, L, this.dim])))
  }
}

// MultiheadAttention with PyTorch's parameter layout (in_proj_weight [3E, E], in_proj_bias
// [3E], out_proj; q/k/v_proj_weight when kdim or vdim differ from E), so torch state dicts
// load unchanged. Returns [output, attention weights | null] like torch.
import { full, tensor } from '../../tensor/creation'
import type { DType } from '../../tensor/dtype'
import { shapeStr } from '../../tensor/shape'
import { Tensor } from '../../tensor/tensor'
import { dropout, linear, matmul, scaledDotProductAttention, softmax, where } from '../../ops'
import { constant_, xavierUniform_ } from '../init'
import { Module } from '../module'
import { newParameter, type Parameter } from '../parameter'
import { checkPositiveInt, checkProbability } from './check'
import { Linear } from './linear'

export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights, in training. */
  dropout?: number
  bias?: boolean
  /** Inputs and output are [N, L, E] rather than [L, N, E]. */
  batchFirst?: boolean
  kdim?: number
  vdim?: number
  dtype?: DType
}

export interface MultiheadAttentionForwardOptions {
  /** [N, S]: true (or -inf) marks keys to ignore. */
  keyPaddingMask?: Tensor | null
  /** Return the attention weights (default true, as torch); false allows the fused kernel. */
  needWeights?: boolean
  /**
   * [L, S] or [N * numHeads, L, S]: true marks pairs NOT allowed to attend (torch's MHA convention); floats are added.
   */
  attnMask?: Tensor | null
  /** Average the returned weights over heads (default true). */
  averageAttnWeights?: boolean
  /** Apply a causal mask (built here when attnMask is not given). */
  isCausal?: boolean
}

export class MultiheadAttention extends Module {
  readonly embedDim: number
  readonly numHeads: number
  readonly headDim: number
  readonly dropout: number
  readonly batchFirst: boolean
  readonly kdim: number
  readonly vdim: number
  declare in_proj_weight: Parameter | null
  declare q_proj_weight: Parameter | null
  declare k_proj_weight: Parameter | null
  declare v_proj_weight: Parameter | null
  declare in_proj_bias: Parameter | null
  declare out_proj: Linear

  constructor(embedDim: number, numHeads: number, opts: MultiheadAttentionOptions = {}) {
    super()
    const L = 'MultiheadAttention'
    this.embedDim = checkPositiveInt(L, 'embedDim', embedDim)
    this.numHeads = checkPositiveInt(L, 'numHeads', numHeads)
    if (embedDim % numHeads) throw new Error(`${L}: embedDim ${embedDim} must be divisible by numHeads ${numHeads}`)
    this.headDim = embedDim / numHeads
    this.dropout = checkProbability(L, 'dropout', opts.dropout ?? 0)
    this.batchFirst = opts.batchFirst ?? false
    this.kdim = checkPositiveInt(L, 'kdim', opts.kdim ?? embedDim)
    this.vdim = checkPositiveInt(L, 'vdim', opts.vdim ?? embedDim)
    const dtype = opts.dtype ?? 'float32'
    const E = embedDim
    const packed = this.kdim === E && this.vdim === E
    this.registerParameter('in_proj_weight', packed ? newParameter([3 * E, E], dtype) : null)
    this.registerParameter('q_proj_weight', packed ? null : newParameter([E, E], dtype))
    this.registerParameter('k_proj_weight', packed ? null : newParameter([E, this.kdim], dtype))
    this.registerParameter('v_proj_weight', packed ? null : newParameter([E, this.vdim], dtype))
    this.registerParameter('in_proj_bias', (opts.bias ?? true) ? newParameter([3 * E], dtype) : null)
    this.registerModule('out_proj', new Linear(E, E, { bias: opts.bias ?? true, dtype }))
    this.resetParameters()
  }

  get inProjWeight(): Parameter | null {
    return this.in_proj_weight
  }
  get inProjBias(): Parameter | null {
    return this.in_proj_bias
  }
  get outProj(): Linear {
    return this.out_proj
  }

  /** torch's init: xavier uniform on the input projections, zero biases; out_proj's weight keeps Linear's init. */
  resetParameters(): void {
    for (const w of [this.in_proj_weight, this.q_proj_weight, this.k_proj_weight, this.v_proj_weight])
      if (w) xavierUniform_(w)
    if (this.in_proj_bias) constant_(this.in_proj_bias, 0)
    if (this.out_proj.bias) constant_(this.out_proj.bias, 0)
  }

  override forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    opts: MultiheadAttentionForwardOptions = {},
  ): [Tensor, Tensor | null] {
    const L = 'MultiheadAttention'
    for (const [name, t] of [
      ['query', query],
      ['key', key],
      ['value', value],
    ] as const)
      if (!(t instanceof Tensor))
        throw new Error(`${L}: ${name} must be a Tensor, got ${t === null ? 'null' : typeof t}`)
    const unbatched = query.ndim === 2
    const want = unbatched ? 2 : 3
    if ((query.ndim !== 2 && query.ndim !== 3) || key.ndim !== want || value.ndim !== want)
      throw new Error(
        `${L}: expected query, key and value all 3-d (batched) or all 2-d, got ${shapeStr(query.shape)}, ${shapeStr(key.shape)}, ${shapeStr(value.shape)}`,
      )
    // Internally [N, L, E].
    const toNLE = (t: Tensor) => (unbatched ? t.unsqueeze(0) : this.batchFirst ? t : t.transpose(0, 1))
    const q0 = toNLE(query)
    const k0 = toNLE(key)
    const v0 = toNLE(value)
    const [N, Lq, E] = q0.shape
    const S = k0.shape[1]
    if (
      E !== this.embedDim ||
      k0.shape[2] !== this.kdim ||
      v0.shape[2] !== this.vdim ||
      k0.shape[0] !== N ||
      v0.shape[0] !== N ||
      v0.shape[1] !== S
    )
      throw new Error(
        `${L}: query ${shapeStr(query.shape)}, key ${shapeStr(key.shape)} and value ${shapeStr(value.shape)} do not fit embedDim ${this.embedDim}, kdim ${this.kdim}, vdim ${this.vdim} (batchFirst ${this.batchFirst})`,
      )
    const [q, k, v] = this.project(query, key, value, q0, k0, v0)
    const H = this.numHeads
    const hd = this.headDim
    const heads = (t: Tensor, len: number) => t.reshape([N, len, H, hd]).permute([0, 2, 1, 3])
    const qh = heads(q, Lq)
    const kh = heads(k, S)
    const vh = heads(v, S)
    const p = this.training ? this.dropout : 0
    // The fused kernel takes the causal case without a materialised mask; it cannot return weights.
    const fused = !(opts.needWeights ?? true) && p < 1
    const causalOnly = fused && !!opts.isCausal && !opts.attnMask && !opts.keyPaddingMask
    const mask = causalOnly ? null : this.additiveMask(opts, N, Lq, S, q.dtype, unbatched)
    let out: Tensor
    let weights: Tensor | null = null
    if (!fused) {
      let scores = matmul(qh, kh.transpose(-2, -1)).mul(1 / Math.sqrt(hd))
      if (mask) scores = scores.add(mask)
      let attn = softmax(scores, -1)
      if (p > 0) attn = dropout(attn, p, true)
      out = matmul(attn, vh)
      const w = (opts.averageAttnWeights ?? true) ? attn.mean(1) : attn
      weights = unbatched ? w.squeeze(0) : w
    } else {
      out = scaledDotProductAttention(qh, kh, vh, { attnMask: mask, dropoutP: p, isCausal: causalOnly })
    }
    const merged = out.permute([0, 2, 1, 3]).reshape([N, Lq, E])
    const y = this.out_proj.forward(merged)
    return [unbatched ? y.squeeze(0) : this.batchFirst ? y : y.transpose(0, 1), weights]
  }

  /** q, k, v = the input projections; one GEMM when query, key and value are the same tensor. */
  private project(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    q0: Tensor,
    k0: Tensor,
    v0: Tensor,
  ): [Tensor, Tensor, Tensor] {
    const E = this.embedDim
    const b = this.in_proj_bias
    const bias = (i: number) => (b ? b.narrow(0, i * E, E) : null)
    if (this.in_proj_weight) {
      const w = this.in_proj_weight
      if (query === key && key === value) return linear(q0, w, b).chunk(3, -1) as [Tensor, Tensor, Tensor]
      return [0, 1, 2].map((i) => linear([q0, k0, v0][i], w.narrow(0, i * E, E), bias(i))) as [Tensor, Tensor, Tensor]
    }
    return [
      linear(q0, this.q_proj_weight as Tensor, bias(0)),
      linear(k0, this.k_proj_weight as Tensor, bias(1)),
      linear(v0, this.v_proj_weight as Tensor, bias(2)),
    ]
  }

  /** attnMask, keyPaddingMask and isCausal as one float mask added to the scores, broadcastable to [N, H, L, S]. */
  private additiveMask(
    opts: MultiheadAttentionForwardOptions,
    N: number,
    Lq: number,
    S: number,
    dtype: DType,
    unbatched: boolean,
  ): Tensor | null {
    const L = 'MultiheadAttention'
    const H = this.numHeads
    const asFloat = (m: Tensor) =>
      m.dtype === 'bool' ? where(m, full([], -Infinity, { dtype, device: m.device }), 0) : m.to(dtype)
    let mask: Tensor | null = null
    let attnMask = opts.attnMask ?? null
    if (!attnMask && opts.isCausal) attnMask = causalMask(Lq, S)
    if (attnMask) {
      const m = attnMask
      if (m.ndim === 2 && m.shape[0] === Lq && m.shape[1] === S) mask = asFloat(m)
      else if (m.ndim === 3 && m.shape[0] === N * H && m.shape[1] === Lq && m.shape[2] === S)
        mask = asFloat(m).reshape([N, H, Lq, S])
      else throw new Error(`${L}: attnMask ${shapeStr(m.shape)} must be [${Lq}, ${S}] or [${N * H}, ${Lq}, ${S}]`)
    }
    const kpm = opts.keyPaddingMask ?? null
    if (kpm) {
      const want = unbatched ? [S] : [N, S]
      if (kpm.ndim !== want.length || kpm.shape.some((s, i) => s !== want[i]))
        throw new Error(`${L}: keyPaddingMask ${shapeStr(kpm.shape)} must be ${shapeStr(want)}`)
      const k = asFloat(kpm).reshape([N, 1, 1, S])
      mask = mask ? mask.add(k) : k
    }
    return mask
  }

  override extraRepr(): string {
    return `embedDim=${this.embedDim}, numHeads=${this.numHeads}, dropout=${this.dropout}, batchFirst=${this.batchFirst}`
  }
}

/** [L, S] bool, true above the diagonal: query i may not attend to key j > i (torch.triu(ones, 1)). */
function causalMask(Lq: number, S: number): Tensor {
  const m = new Uint8Array(Lq * S)
  for (let i = 0; i < Lq; i++) for (let j = i + 1; j < S; j++) m[i * S + j] = 1
  return tensor(m, { shape: [Lq, S], dtype: 'bool' })
}

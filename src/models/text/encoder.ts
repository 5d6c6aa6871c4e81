// A small pre-norm Transformer text encoder for image-text pretraining: token and learned
// position embeddings, blocks that skip padding keys, a final LayerNorm; the [CLS] token's
// output is the text feature. MaskedLMHead (BERT's: dense -> GELU -> LayerNorm -> decoder)
// predicts masked tokens for DeCLIP's text self-supervision.
import { noGrad } from '../../autograd/grad-mode'
import { shapeStr } from '../../tensor/shape'
import type { Tensor } from '../../tensor/tensor'
import { Embedding, GELU, LayerNorm, Linear, Module, ModuleList, init, newParameter, type Parameter } from '../../nn'
import { crossEntropy } from '../../ops'
import { Block } from '../layers/block'
import { linearParams, normParams } from '../layers/count'
import { IGNORE_INDEX } from './masking'

export interface TextEncoderOptions {
  vocabSize: number
  /** The longest sequence the position embeddings cover. */
  maxLength?: number
  width?: number
  depth?: number
  numHeads?: number
  mlpRatio?: number
  dropPathRate?: number
  /** The id of [PAD], whose embedding starts at zero and gets no gradient. */
  padId?: number
}

export class MaskedLMHead extends Module {
  dense: Linear
  act = new GELU()
  norm: LayerNorm
  decoder: Linear

  constructor(width: number, vocabSize: number) {
    super()
    this.dense = new Linear(width, width)
    this.norm = new LayerNorm(width)
    this.decoder = new Linear(width, vocabSize)
  }

  static countParameters(width: number, vocabSize: number): number {
    return linearParams(width, width) + normParams(width) + linearParams(width, vocabSize)
  }

  /** Hidden states [N, L, width] -> logits over the vocabulary [N, L, vocabSize]. */
  override forward(hidden: Tensor): Tensor {
    return this.decoder.forward(this.norm.forward(this.act.forward(this.dense.forward(hidden))))
  }
}

export class TextEncoder extends Module {
  readonly vocabSize: number
  readonly maxLength: number
  readonly width: number
  token_embedding: Embedding
  positional_embedding: Parameter
  blocks: ModuleList<Block>
  ln_final: LayerNorm
  mlm_head: MaskedLMHead

  constructor(opts: TextEncoderOptions) {
    super()
    const {
      vocabSize,
      maxLength = 64,
      width = 256,
      depth = 4,
      numHeads = 4,
      mlpRatio = 4,
      dropPathRate = 0,
      padId = 0,
    } = opts
    this.vocabSize = vocabSize
    this.maxLength = maxLength
    this.width = width
    this.token_embedding = new Embedding(vocabSize, width, { paddingIdx: padId })
    init.normal_(this.token_embedding.weight, 0, 0.02)
    noGrad(() => init.zeros_(this.token_embedding.weight.select(0, padId)))
    this.positional_embedding = init.normal_(newParameter([maxLength, width]), 0, 0.01)
    const dpr = (i: number) => (depth > 1 ? (dropPathRate * i) / (depth - 1) : 0)
    this.blocks = new ModuleList(
      Array.from({ length: depth }, (_, i) => new Block(width, numHeads, { mlpRatio, dropPath: dpr(i), eps: 1e-5 })),
    )
    this.ln_final = new LayerNorm(width)
    this.mlm_head = new MaskedLMHead(width, vocabSize)
    for (const m of this.modules())
      if (m instanceof Linear) {
        init.truncNormal_(m.weight, 0, 0.02, -0.04, 0.04)
        if (m.bias) init.zeros_(m.bias)
      }
  }

  static countParameters(opts: TextEncoderOptions): number {
    const { vocabSize, maxLength = 64, width = 256, depth = 4, mlpRatio = 4 } = opts
    return (
      vocabSize * width +
      maxLength * width +
      depth * Block.countParameters(width, mlpRatio) +
      normParams(width) +
      MaskedLMHead.countParameters(width, vocabSize)
    )
  }

  /**
   * Hidden states [N, L, width] for int32 ids [N, L]; attentionMask [N, L] (1 = token,
   * 0 = padding) keeps padding out of every token's attention.
   */
  override forward(inputIds: Tensor, attentionMask: Tensor | null = null): Tensor {
    if (inputIds.ndim !== 2 || inputIds.dtype !== 'int32')
      throw new Error(`TextEncoder: expected int32 ids [N, L], got ${inputIds.dtype} ${shapeStr(inputIds.shape)}`)
    const [N, L] = inputIds.shape
    if (L > this.maxLength) throw new Error(`TextEncoder: sequence length ${L} exceeds maxLength ${this.maxLength}`)
    if (attentionMask && (attentionMask.ndim !== 2 || attentionMask.shape[0] !== N || attentionMask.shape[1] !== L))
      throw new Error(
        `TextEncoder: attentionMask ${shapeStr(attentionMask.shape)} must match the ids ${shapeStr(inputIds.shape)}`,
      )
    // true = may attend; [N, 1, 1, L] broadcasts over heads and queries.
    const keys = attentionMask ? attentionMask.ne(0).reshape([N, 1, 1, L]) : null
    let h = this.token_embedding.forward(inputIds).add(this.positional_embedding.narrow(0, 0, L))
    for (const b of this.blocks) h = b.forward(h, keys)
    return this.ln_final.forward(h)
  }

  /** The text feature: the final [CLS] (first) token's state [N, width]. */
  encode(inputIds: Tensor, attentionMask: Tensor | null = null): Tensor {
    return this.forward(inputIds, attentionMask).select(1, 0)
  }

  /** Masked-LM cross-entropy, averaged over positions whose label is not -100. */
  mlmLoss(inputIds: Tensor, attentionMask: Tensor | null, labels: Tensor): Tensor {
    const logits = this.mlm_head.forward(this.forward(inputIds, attentionMask))
    return crossEntropy(logits.reshape([-1, this.vocabSize]), labels.reshape([-1]), { ignoreIndex: IGNORE_INDEX })
  }
}

// Embedding: a lookup table of `numEmbeddings` vectors, torch's N(0, 1) initialisation.
import { noGrad } from '../../autograd/grad-mode'
import type { DType } from '../../tensor/dtype'
import type { Tensor } from '../../tensor/tensor'
import { embedding } from '../../ops'
import { normal_ } from '../init'
import { Module } from '../module'
import { newParameter, type Parameter } from '../parameter'
import { checkPositiveInt } from './check'

export interface EmbeddingOptions {
  /** This row gets no gradient and starts at zero (torch's padding_idx); negative counts from the end. */
  paddingIdx?: number | null
  dtype?: DType
}

export class Embedding extends Module {
  readonly numEmbeddings: number
  readonly embeddingDim: number
  readonly paddingIdx: number | null
  weight: Parameter

  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingOptions = {}) {
    super()
    this.numEmbeddings = checkPositiveInt('Embedding', 'numEmbeddings', numEmbeddings)
    this.embeddingDim = checkPositiveInt('Embedding', 'embeddingDim', embeddingDim)
    const pad = opts.paddingIdx ?? null
    if (pad !== null && (!Number.isInteger(pad) || pad < -numEmbeddings || pad >= numEmbeddings))
      throw new Error(
        `Embedding: paddingIdx must be an integer in [${-numEmbeddings}, ${numEmbeddings - 1}], got ${pad}`,
      )
    this.paddingIdx = pad === null ? null : pad < 0 ? pad + numEmbeddings : pad
    this.weight = newParameter([numEmbeddings, embeddingDim], opts.dtype ?? 'float32')
    this.resetParameters()
  }

  resetParameters(): void {
    normal_(this.weight)
    if (this.paddingIdx !== null) {
      const idx = this.paddingIdx
      noGrad(() => {
        const row = this.weight.select(0, idx)
        row.zero_()
        row.dispose()
      })
    }
  }

  override forward(indices: Tensor): Tensor {
    return embedding(indices, this.weight, { paddingIdx: this.paddingIdx })
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ''}`
  }
}

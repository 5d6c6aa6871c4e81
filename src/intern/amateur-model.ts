// The Up-A model: an image backbone and a small text encoder projected into one embedding
// space (CLIP), a SimSiam projector and predictor (or a SimCLR projector) on the image
// backbone, the text encoder's masked-LM head, the learnable logit scale, and the text feature
// queue for nearest-neighbour supervision. The backbone is the direct child `backbone`, so the
// stage file's `backbone.*` tensors are what later stages load (stage-io.ts).
import { BatchNorm1d, Linear, Module, Parameter, ReLU, Sequential } from '../nn'
import { createModel, type Backbone } from '../models/zoo'
import { TextEncoder } from '../models/text/encoder'
import { Tokenizer, type TokenizerLevel } from '../models/text/tokenizer'
import { full } from '../tensor/creation'
import type { Tensor } from '../tensor/tensor'
import { LOGIT_SCALE_INIT, TextFeatureQueue } from './losses'

/** Everything needed to rebuild the model; the stage card keeps it under config.model. */
export interface AmateurModelConfig {
  backbone: string
  imageSize: number
  /** Width of the shared image-text embedding. */
  embedDim: number
  text: { width: number; depth: number; numHeads: number; maxLength: number }
  tokenizer: { level: TokenizerLevel; lowercase: boolean; vocab: string[] }
  selfSupervised: 'simsiam' | 'simclr'
  /** Output width of the projector (and of SimSiam's predictor); the predictor's bottleneck. */
  projectorDim: number
  predictorDim: number
  /** Text features the nearest-neighbour queue holds. */
  queueSize: number
}

export const DEFAULT_MODEL_SHAPE = {
  embedDim: 64,
  text: { width: 64, depth: 2, numHeads: 2, maxLength: 64 },
  projectorDim: 128,
  predictorDim: 32,
  queueSize: 512,
} as const

/** SimSiam's projector: linear-BN-ReLU, then linear-BN, so z is batch-normalised. */
function projector(inDim: number, dim: number): Sequential {
  return new Sequential(
    new Linear(inDim, dim, { bias: false }),
    new BatchNorm1d(dim),
    new ReLU(),
    new Linear(dim, dim, { bias: false }),
    new BatchNorm1d(dim),
  )
}

/** SimSiam's predictor: a bottleneck MLP (dim -> hidden -> dim). */
function predictor(dim: number, hidden: number): Sequential {
  return new Sequential(
    new Linear(dim, hidden, { bias: false }),
    new BatchNorm1d(hidden),
    new ReLU(),
    new Linear(hidden, dim),
  )
}

export class AmateurModel extends Module {
  readonly config: AmateurModelConfig
  readonly tokenizer: Tokenizer
  backbone: Backbone
  imageProjection: Linear
  text: TextEncoder
  textProjection: Linear
  projector: Sequential
  predictor: Sequential | null
  logitScale: Parameter
  queue: TextFeatureQueue

  constructor(config: AmateurModelConfig) {
    super()
    this.config = config
    this.tokenizer = Tokenizer.fromJSON(config.tokenizer)
    this.backbone = createModel(config.backbone, { imageSize: config.imageSize })
    this.imageProjection = new Linear(this.backbone.pooledDim, config.embedDim, { bias: false })
    const { width, depth, numHeads, maxLength } = config.text
    this.text = new TextEncoder({
      vocabSize: this.tokenizer.vocabSize,
      width,
      depth,
      numHeads,
      maxLength,
      padId: this.tokenizer.padId,
    })
    this.textProjection = new Linear(width, config.embedDim, { bias: false })
    this.projector = projector(this.backbone.pooledDim, config.projectorDim)
    this.predictor = config.selfSupervised === 'simsiam' ? predictor(config.projectorDim, config.predictorDim) : null
    this.logitScale = new Parameter(full([], LOGIT_SCALE_INIT))
    this.queue = new TextFeatureQueue(config.queueSize, config.embedDim)
  }

  /** Token ids and attention mask of texts, padded to the longest and cut at the encoder's maxLength. */
  tokenize(texts: string[]): { inputIds: Tensor; attentionMask: Tensor } {
    const longest = Math.max(...texts.map((t) => this.tokenizer.encode(t).length))
    return this.tokenizer.encodeBatch(texts, { maxLength: Math.min(longest, this.config.text.maxLength) })
  }

  /** Images [N, 3, H, W] -> embeddings [N, embedDim] (not normalised). */
  encodeImage(images: Tensor): Tensor {
    return this.imageProjection.forward(this.backbone.forwardPooled(images))
  }

  /** Token ids [N, L] (with mask) -> embeddings [N, embedDim] (not normalised). */
  encodeText(inputIds: Tensor, attentionMask: Tensor): Tensor {
    return this.textProjection.forward(this.text.encode(inputIds, attentionMask))
  }
}

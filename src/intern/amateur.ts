// Up-A, the amateur stage: DeCLIP-style pretraining of an image backbone on image-text data
// with four kinds of supervision at once (losses/amateur.ts): image-text contrast, nearest-
// neighbour captions, two-view image self-supervision and masked language modelling. It runs
// under fit(), so it checkpoints atomically and a run killed at any point resumes exactly; it
// leaves a stage folder (stage-io.ts) whose `backbone.*` weights the expert stage starts from.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { noGrad } from '../autograd/grad-mode'
import type { Batch } from '../data/collate'
import type { Dataset, Sample } from '../data/types'
import { DataLoader } from '../data/loader'
import { dataParallel } from '../distributed/data-parallel'
import { batchToTensors } from '../data/to-tensor'
import { loadFile } from '../io/safetensors'
import { maskTokens } from '../models/text/masking'
import { cat, normalize } from '../ops'
import { AdamW, LRScheduler, paramGroupsNoDecay, warmupCosineSchedule } from '../optim'
import { scope } from '../tensor/memory'
import { manualSeed } from '../tensor/random'
import type { Tensor } from '../tensor/tensor'
import { fit, type Precision, type StepOutput } from '../train/fit'
import { amateurViews, captionTokenizer, defaultImageTextSources, imageTextDataset } from './amateur-data'
import { AmateurModel, DEFAULT_MODEL_SHAPE, type AmateurModelConfig } from './amateur-model'
import { amateurLoss, resolveAmateurWeights, type AmateurLossInputs, type AmateurWeights } from './losses'
import { packageVersion } from '../runtime'
import { CARD_FILE, CHECKPOINT_FILE, LOG_FILE, MODEL_FILE, readStageCard, saveStage, type StageCard } from './stage-io'
import { readStageLog, StageLog } from './stage-log'

export interface AmateurOptions {
  /** Zoo name (or MetaNet config file) of the image backbone, e.g. 'mn-t'. */
  backbone: string
  /** Square image side, e.g. 32. */
  imageSize: number
  steps: number
  batchSize: number
  /** Peak learning rate of AdamW's warmup-cosine schedule. */
  lr: number
  seed: number
  /** The stage folder. */
  out: string
  /** Continue from the folder's checkpoint (run with the same options). */
  resume?: boolean
  /** Upstream image-text sources; default: every registered one. */
  sources?: string[]
  /** Loss weights (default CLIP 0.4, NN 0.2, SimSiam 0.2, MLM 0.2); a weight of 0 skips that term. */
  weights?: Partial<AmateurWeights>
  selfSupervised?: 'simsiam' | 'simclr'
  /** Training images per epoch (default 4096). */
  trainSize?: number
  /**
   * Length of the warmup-cosine schedule (default: steps). A run split in parts (steps N, then
   * steps 2N with resume) gives its first part the whole length, so the parts add up exactly.
   */
  scheduleSteps?: number
  /** Steps between checkpoints (default 100). */
  checkpointEvery?: number
  /** 'bf16' trains under autocast('bfloat16') with float32 weights (default 'float32'). */
  precision?: Precision
  log?: { quiet?: boolean }
  /** Card name: 'amateur' by default; the image-text-only baseline is 'baseline-image-text'. */
  name?: string
}

/** AdamW's decoupled weight decay (biases, norms and the logit scale are exempt). */
export const AMATEUR_WEIGHT_DECAY = 0.05
/** NT-Xent temperature when selfSupervised is 'simclr' (SimCLR's 0.1). */
export const SIMCLR_TEMPERATURE = 0.1

function checkOptions(o: AmateurOptions): void {
  const fn = 'trainAmateur'
  const int = (k: string, v: unknown, min: number) => {
    if (!Number.isInteger(v) || (v as number) < min)
      throw new Error(`${fn}: ${k} must be an integer >= ${min}, got ${String(v)}`)
  }
  if (typeof o.backbone !== 'string' || o.backbone === '')
    throw new Error(`${fn}: backbone must be a zoo name or a MetaNet config file, got ${String(o.backbone)}`)
  int('imageSize', o.imageSize, 16)
  int('steps', o.steps, 2)
  int('batchSize', o.batchSize, 2)
  if (typeof o.lr !== 'number' || !(o.lr > 0) || !Number.isFinite(o.lr))
    throw new Error(`${fn}: lr must be a finite number > 0, got ${o.lr}`)
  if (!Number.isSafeInteger(o.seed)) throw new Error(`${fn}: seed must be a safe integer, got ${o.seed}`)
  if (typeof o.out !== 'string' || o.out === '')
    throw new Error(`${fn}: out must be a folder path, got ${String(o.out)}`)
  if (o.trainSize !== undefined) int('trainSize', o.trainSize, o.batchSize)
  if (o.scheduleSteps !== undefined) int('scheduleSteps', o.scheduleSteps, o.steps)
  if (o.checkpointEvery !== undefined) int('checkpointEvery', o.checkpointEvery, 1)
  if (o.selfSupervised !== undefined && o.selfSupervised !== 'simsiam' && o.selfSupervised !== 'simclr')
    throw new Error(`${fn}: selfSupervised must be 'simsiam' or 'simclr', got '${String(o.selfSupervised)}'`)
  if (o.name !== undefined && !/^[a-z0-9][a-z0-9._-]*$/.test(o.name))
    throw new Error(`${fn}: name must be lower-case letters, digits, '.', '_' or '-', got '${o.name}'`)
}

/** One Up-A step: the terms with a non-zero weight, their weighted sum, then the batch's captions into the queue. */
export function amateurStep(model: AmateurModel, batch: Batch, w: AmateurWeights): StepOutput {
  const b = batchToTensors(batch)
  const B = b.size
  const captions = b.captionViews as string[][]
  const halves = (t: Tensor): [Tensor, Tensor] => [t.narrow(0, 0, B), t.narrow(0, B, B)]
  // Both views in one pass (BatchNorm sees the 2B images together).
  const pooled = model.backbone.forwardPooled(cat(b.views as Tensor[], 0))
  const inputs: AmateurLossInputs = { logitScale: model.logitScale, queue: model.queue }
  if (w.clip > 0 || w.nn > 0) {
    inputs.imageFeatures = halves(model.imageProjection.forward(pooled))
    const { inputIds, attentionMask } = model.tokenize([...captions[0], ...captions[1]])
    inputs.textFeatures = halves(model.encodeText(inputIds, attentionMask))
  }
  if (w.simsiam > 0) {
    const z = model.projector.forward(pooled)
    if (model.predictor) inputs.simsiam = { p: halves(model.predictor.forward(z)), z: halves(z) }
    else inputs.simclr = { z: halves(z), temperature: SIMCLR_TEMPERATURE }
  }
  if (w.mlm > 0) {
    const { inputIds, attentionMask } = model.tokenize(captions[0])
    const masked = maskTokens(inputIds, model.tokenizer)
    inputs.mlm = {
      logits: model.text.mlm_head.forward(model.text.forward(masked.inputIds, attentionMask)),
      labels: masked.labels,
    }
  }
  const { total, terms } = amateurLoss(inputs, w)
  if (w.nn > 0) model.queue.enqueue((inputs.textFeatures as Tensor[])[0])
  return { loss: total, metrics: Object.fromEntries(Object.entries(terms).map(([k, t]) => [k, t.item()])) }
}

export async function trainAmateur(o: AmateurOptions): Promise<StageCard> {
  checkOptions(o)
  const started = Date.now()
  const weights = resolveAmateurWeights(o.weights, 'trainAmateur')
  const sources = o.sources ?? defaultImageTextSources()
  const trainSize = o.trainSize ?? 4096
  const scheduleSteps = o.scheduleSteps ?? o.steps
  const selfSupervised = o.selfSupervised ?? 'simsiam'
  const name = o.name ?? 'amateur'
  const logFile = path.join(o.out, LOG_FILE)
  const checkpointFile = path.join(o.out, CHECKPOINT_FILE)
  fs.mkdirSync(o.out, { recursive: true })

  const data = imageTextDataset(sources, { size: trainSize, imageSize: o.imageSize, split: 'train' })
  manualSeed(o.seed)
  const tokenizer = await captionTokenizer(sources)
  const modelConfig: AmateurModelConfig = {
    backbone: o.backbone,
    imageSize: o.imageSize,
    ...DEFAULT_MODEL_SHAPE,
    text: { ...DEFAULT_MODEL_SHAPE.text },
    tokenizer: tokenizer.toJSON(),
    selfSupervised,
  }
  const model = new AmateurModel(modelConfig)
  const optimizer = new AdamW(paramGroupsNoDecay(model.namedParameters(), AMATEUR_WEIGHT_DECAY), { lr: o.lr })
  const warmupSteps = Math.max(1, Math.min(100, Math.floor(scheduleSteps / 10)))
  const scheduler = new LRScheduler(optimizer, warmupCosineSchedule({ warmupSteps, totalSteps: scheduleSteps }))
  // Under a launcher: DDP on the model, each rank a share of every global batch, rank 0 writes.
  const dp = await dataParallel('trainAmateur', model)
  if (dp.main) {
    // The folder holds no finished stage until this run writes its card.
    fs.rmSync(path.join(o.out, CARD_FILE), { force: true })
    if (!o.resume) for (const f of [logFile, checkpointFile]) fs.rmSync(f, { force: true })
  }
  const loader = dp.loader(data, {
    batchSize: o.batchSize,
    shuffle: true,
    seed: o.seed,
    dropLast: true,
    transform: amateurViews(o.imageSize),
  })
  const log = new StageLog(logFile)
  if (!o.log?.quiet && dp.main)
    console.error(
      `Up-A '${name}': ${o.backbone} at ${o.imageSize} px on ${sources.join(', ')} for ${o.steps} steps; stage folder ${o.out}`,
    )
  const result = await fit({
    model,
    optimizer,
    scheduler,
    epochs: Math.ceil(o.steps / loader.length),
    maxSteps: o.steps,
    batches: (epoch) => {
      loader.epoch = epoch
      return loader
    },
    step: (batch, m) => amateurStep(m as AmateurModel, batch, weights),
    checkpoint: { path: checkpointFile, every: o.checkpointEvery ?? 100 },
    resume: o.resume,
    precision: o.precision,
    log: { quiet: o.log?.quiet, every: 25 },
    onStep: ({ step, epoch, loss, lr, metrics }) => {
      const means = dp.mean({ total: loss, ...metrics })
      if (dp.main) log.write({ step, epoch, lr, ...means })
    },
  })
  dp.sync()

  const records = readStageLog(logFile)
  const last = records[records.length - 1]
  const finalLosses: Record<string, number> = {}
  if (last) for (const k of ['total', 'clip', 'nn', 'simsiam', 'mlm']) if (k in last) finalLosses[k] = last[k]
  const card: StageCard = {
    name,
    kind: name.startsWith('baseline-') ? 'baseline' : 'amateur',
    version: packageVersion(),
    backbone: o.backbone,
    imageSize: o.imageSize,
    sources,
    steps: result.steps,
    batchSize: o.batchSize,
    seconds: last?.seconds ?? (Date.now() - started) / 1000,
    finalLosses,
    parents: [],
    config: {
      weights,
      selfSupervised,
      lr: o.lr,
      weightDecay: AMATEUR_WEIGHT_DECAY,
      seed: o.seed,
      trainSize,
      scheduleSteps,
      warmupSteps,
      checkpointEvery: o.checkpointEvery ?? 100,
      precision: o.precision ?? 'float32',
      model: modelConfig,
    },
    createdAt: new Date().toISOString(),
  }
  if (dp.main) saveStage(o.out, model, card)
  dp.close()
  return card
}

/** The whole Up-A model of a finished amateur stage (rebuilt from its card, weights loaded). */
export function loadAmateur(dir: string): AmateurModel {
  const card = readStageCard(dir)
  const config = (card.config as { model?: AmateurModelConfig }).model
  // The image-text baseline is an amateur stage under a baseline name: it loads the same way.
  if ((card.kind !== 'amateur' && card.kind !== 'baseline') || !config)
    throw new Error(`loadAmateur: '${dir}' holds a ${card.kind} stage, not an amateur one`)
  const model = new AmateurModel(config)
  const weights = loadFile(path.join(dir, MODEL_FILE))
  try {
    model.loadStateDict(weights)
  } catch (e) {
    throw new Error(`loadAmateur: '${dir}': ${(e as Error).message}`)
  } finally {
    for (const t of Object.values(weights)) t.dispose()
  }
  return model
}

/** L2-normalised image and caption embeddings of a dataset, in chunks, without gradients (eval mode). */
async function embedAll(
  model: AmateurModel,
  data: Dataset<Sample>,
): Promise<{ images: Tensor; texts: Tensor; captions: string[] }> {
  model.eval()
  const images: Tensor[] = []
  const texts: Tensor[] = []
  const captions: string[] = []
  for await (const batch of new DataLoader(data, { batchSize: 128 })) {
    const [image, text] = scope(() =>
      noGrad(() => {
        const b = batchToTensors(batch)
        const { inputIds, attentionMask } = model.tokenize(b.captions as string[])
        return [
          normalize(model.encodeImage(b.images), { dim: 1 }),
          normalize(model.encodeText(inputIds, attentionMask), { dim: 1 }),
        ]
      }),
    )
    images.push(image)
    texts.push(text)
    captions.push(...(batch.captions as string[]))
  }
  const all = { images: cat(images, 0), texts: cat(texts, 0), captions }
  for (const t of [...images, ...texts]) t.dispose()
  return all
}

/** The fraction of rows whose highest-scoring column holds the same caption as the row. */
function retrievalTop1(scores: Tensor, queryCaptions: string[], itemCaptions: string[]): number {
  const best = scores.argmax(1).data() as Int32Array
  let hits = 0
  best.forEach((j, i) => {
    if (itemCaptions[j] === queryCaptions[i]) hits++
  })
  return hits / best.length
}

/**
 * Zero-shot retrieval on the held-out upstream val split of each of the stage's sources (`size`
 * images each, default 500): image-to-text top-1 ranks the val captions for each image by
 * cosine, text-to-image the images for each caption. A hit is a retrieved item whose caption is
 * the query's: an identical caption of another scene counts, since no text encoder can tell
 * two equal strings apart. The mean over sources; chance is about 1 / size.
 */
export async function evaluateAmateur(
  dir: string,
  o: { size?: number } = {},
): Promise<{ imageToTextTop1: number; textToImageTop1: number }> {
  const size = o.size ?? 500
  if (!Number.isInteger(size) || size < 2) throw new Error(`evaluateAmateur: size must be an integer >= 2, got ${size}`)
  const card = readStageCard(dir)
  const model = loadAmateur(dir)
  let imageToText = 0
  let textToImage = 0
  for (const source of card.sources) {
    const { images, texts, captions } = await embedAll(
      model,
      imageTextDataset([source], { size, imageSize: card.imageSize, split: 'val' }),
    )
    scope(() => {
      const scores = images.matmul(texts.t())
      imageToText += retrievalTop1(scores, captions, captions)
      textToImage += retrievalTop1(scores.t(), captions, captions)
    })
    images.dispose()
    texts.dispose()
  }
  return { imageToTextTop1: imageToText / card.sources.length, textToImageTop1: textToImage / card.sources.length }
}

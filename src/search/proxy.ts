// The proxy evaluation of a candidate: a short training from scratch on a GV-D upstream
// classification source (never benchmark data), budgeted in optimizer steps, scored by top-1
// accuracy on the source's held-out val split. Everything is seeded: the same candidate, seed
// and options give the same score, which is what lets a killed search rerun a trial exactly.
import { noGrad } from '../autograd/grad-mode'
import { adamW, checkTrainOptions, epochBatches, withSeed } from '../benchmark/protocols/common'
import { upstreamSource } from '../data/gvd/upstream'
import type { Dataset, Sample } from '../data/types'
import { MetaNet } from '../models/metanet/metanet'
import type { MetaNetConfig } from '../models/metanet/config'
import { recomputeBatchNormStats } from '../nn'
import { crossEntropy } from '../ops'
import { tensor } from '../tensor/creation'
import { scope } from '../tensor/memory'
import type { Tensor } from '../tensor/tensor'
import { fit } from '../train/fit'

export interface ProxyOptions {
  /**
   * An upstream classification source (src/data/gvd/upstream.ts). Default 'up-cls-colour': at
   * 32 px the shape sources stay at their label prior for the first few hundred steps from
   * scratch, so they cannot rank candidates in a CPU-sized proxy (docs/search.md).
   */
  source?: string
  /** Default 32. */
  imageSize?: number
  /** Images of the source's train split. Default 2000. */
  trainSize?: number
  /** Images of the source's held-out val split. Default 500. */
  valSize?: number
  /** Optimizer steps per candidate. Default 100. */
  steps?: number
  /** Default 32. */
  batchSize?: number
  /** AdamW peak learning rate (10% linear warm-up, cosine decay). Default 3e-3. */
  lr?: number
  /** Default 0.05 (norms and biases take none). */
  weightDecay?: number
  /** Seeds the initialisation and the batch order. Default 0. */
  seed?: number
}

export type ProxySettings = Required<ProxyOptions>

export const PROXY_DEFAULTS: ProxySettings = {
  source: 'up-cls-colour',
  imageSize: 32,
  trainSize: 2000,
  valSize: 500,
  steps: 100,
  batchSize: 32,
  lr: 3e-3,
  weightDecay: 0.05,
  seed: 0,
}

export interface ProxyResult {
  /** Top-1 accuracy on the val split (0 when the training diverged). */
  score: number
  /** Mean training loss over the last tenth of the steps. */
  trainLoss: number | null
  diverged: boolean
  seconds: number
}

/** A split held in memory: CHW images one after another, and their labels. */
export interface ProxyImages {
  pixels: Float32Array
  labels: Int32Array
  count: number
}

/** Batches used to re-estimate BatchNorm statistics before scoring. */
const PRECISE_BN_BATCHES = 8
const EVAL_BATCH = 100

export function proxySettings(options: ProxyOptions = {}): ProxySettings {
  const o = checkTrainOptions('ProxyTask', { ...PROXY_DEFAULTS, ...options })
  for (const k of ['imageSize', 'trainSize', 'valSize'] as const)
    if (!Number.isInteger(o[k]) || o[k] < 1)
      throw new RangeError(`ProxyTask: ${k} must be a positive integer, got ${o[k]}`)
  if (!Number.isSafeInteger(o.seed) || o.seed < 0)
    throw new RangeError(`ProxyTask: seed must be a non-negative integer, got ${o.seed}`)
  return o
}

export class ProxyTask {
  readonly settings: ProxySettings
  readonly numClasses: number
  private readonly labelSpace: string
  private data: { train: ProxyImages; val: ProxyImages } | null = null

  constructor(options: ProxyOptions = {}) {
    this.settings = proxySettings(options)
    const source = upstreamSource(this.settings.source)
    if (source.task !== 'classification')
      throw new Error(
        `ProxyTask: source '${source.name}' is a ${source.task} source; the proxy needs a classification one`,
      )
    this.numClasses = source.numClasses
    this.labelSpace = source.labelSpace as string
  }

  /** Renders both splits once (the first call pays for it). */
  async load(): Promise<{ train: ProxyImages; val: ProxyImages }> {
    if (this.data) return this.data
    const { source, imageSize, trainSize, valSize } = this.settings
    const read = async (ds: Dataset<Sample>): Promise<ProxyImages> => {
      const per = 3 * imageSize * imageSize
      const pixels = new Float32Array(ds.length * per)
      const labels = new Int32Array(ds.length)
      for (let i = 0; i < ds.length; i++) {
        const s = await ds.get(i)
        if (s.image.data.length !== per)
          throw new Error(
            `ProxyTask: image ${i} of '${source}' has ${s.image.data.length} values, expected 3 x ${imageSize} x ${imageSize}`,
          )
        pixels.set(s.image.data, i * per)
        labels[i] = s.labels![this.labelSpace]
      }
      return { pixels, labels, count: ds.length }
    }
    const src = upstreamSource(source)
    this.data = {
      train: await read(src.create({ split: 'train', size: trainSize, imageSize })),
      val: await read(src.create({ split: 'val', size: valSize, imageSize })),
    }
    return this.data
  }

  private batch(set: ProxyImages, rows: ArrayLike<number>): { x: Tensor; y: Tensor } {
    const S = this.settings.imageSize
    const per = 3 * S * S
    const pixels = new Float32Array(rows.length * per)
    for (let k = 0; k < rows.length; k++) pixels.set(set.pixels.subarray(rows[k] * per, (rows[k] + 1) * per), k * per)
    return {
      x: tensor(pixels, { shape: [rows.length, 3, S, S] }),
      y: tensor(Int32Array.from(rows, (r) => set.labels[r])),
    }
  }

  /** A candidate trained from scratch on the train split for `steps` (default settings.steps). */
  async train(
    config: MetaNetConfig,
    options: { steps?: number; seed?: number } = {},
  ): Promise<{ model: MetaNet; losses: number[] }> {
    const { train } = await this.load()
    const s = { ...this.settings, ...options }
    checkTrainOptions('ProxyTask.train', s)
    return withSeed(s.seed, 'search-proxy', async () => {
      const model = new MetaNet(config, { numClasses: this.numClasses })
      const { optimizer, scheduler } = adamW([{ named: model.namedParameters(), lr: s.lr }], s)
      const perEpoch = epochBatches(train.count, s.batchSize, s.seed, 0).length
      const result = await fit({
        model,
        optimizer,
        scheduler,
        epochs: Math.ceil(s.steps / perEpoch),
        maxSteps: s.steps,
        batches: (epoch) => epochBatches(train.count, s.batchSize, s.seed, epoch),
        step: (rows: Int32Array, m) => {
          const { x, y } = this.batch(train, rows)
          return crossEntropy(m.forward(x) as Tensor, y)
        },
        log: { quiet: true },
      })
      return { model, losses: result.losses }
    })
  }

  /**
   * Val accuracy of a trained model. BatchNorm statistics are first recomputed exactly on a few
   * training batches (precise BN): after a short training the running averages still mix in
   * earlier weights, which can make eval-mode predictions collapse.
   */
  async evaluate(model: MetaNet): Promise<number> {
    const { train, val } = await this.load()
    recomputeBatchNormStats(model, (forward) => {
      for (const rows of epochBatches(train.count, this.settings.batchSize, this.settings.seed, -1).slice(
        0,
        PRECISE_BN_BATCHES,
      ))
        forward(() => void model.forward(this.batch(train, rows).x))
    })
    model.eval()
    let correct = 0
    for (let start = 0; start < val.count; start += EVAL_BATCH) {
      const rows = Array.from({ length: Math.min(EVAL_BATCH, val.count - start) }, (_, k) => start + k)
      correct += scope(() =>
        noGrad(() => {
          const { x, y } = this.batch(val, rows)
          return (model.forward(x) as Tensor).argmax(1).eq(y).sum().item()
        }),
      )
    }
    return correct / val.count
  }

  /** Trains and scores a candidate; a training whose loss stops being finite scores 0. */
  async score(config: MetaNetConfig): Promise<ProxyResult> {
    await this.load()
    const started = performance.now()
    try {
      const { model, losses } = await this.train(config)
      const tail = losses.slice(-Math.max(1, Math.floor(losses.length / 10)))
      const score = await this.evaluate(model)
      return {
        score,
        trainLoss: tail.reduce((a, b) => a + b, 0) / tail.length,
        diverged: false,
        seconds: (performance.now() - started) / 1000,
      }
    } catch (e) {
      if (!/the loss became/.test((e as Error).message)) throw e
      return { score: 0, trainLoss: null, diverged: true, seconds: (performance.now() - started) / 1000 }
    }
  }
}

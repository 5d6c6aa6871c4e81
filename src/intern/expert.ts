// Up-E: one expert per task type (C classification, D detection, S segmentation), started from
// Up-A's image encoder (or from random init, for baselines) and trained on several sources of
// its type at once: one shared backbone, one head per source label space, source-balanced
// batches (objectives.ts). Also the plumbing every stage trainer here shares: the output-folder
// guard and the checkpointed, resumable run that ends in a stage folder (stage-io.ts).
import * as fs from 'node:fs'
import * as path from 'node:path'
import { listUpstreamSources } from '../data/gvd/upstream'
import { dataParallel, type BatchPart } from '../distributed/data-parallel'
import { createModel, type Backbone } from '../models/zoo'
import { Module } from '../nn'
import { AdamW, LRScheduler, paramGroupsNoDecay, warmupCosineSchedule } from '../optim'
import { packageVersion } from '../runtime'
import { manualSeed } from '../tensor/random'
import type { Tensor } from '../tensor/tensor'
import { fit, type Precision } from '../train/fit'
import { readStageLog, StageLog } from './stage-log'
import {
  BalancedBatches,
  EXPERT_TASKS,
  createTaskHead,
  evaluateHeads,
  resolveSources,
  shares,
  toSourceBatches,
  type TaskHead,
} from './objectives'
import {
  CARD_FILE,
  CHECKPOINT_FILE,
  LOG_FILE,
  loadStageBackbone,
  readStageCard,
  readStageWeights,
  saveStage,
  type ExpertType,
  type StageCard,
} from './stage-io'

export interface ExpertOptions extends StageTrainingOptions {
  type: ExpertType
  /** Zoo name (or MetaNet config file) of the backbone; must match the amateur's. */
  backbone: string
  imageSize: number
  init: { amateur: string } | 'scratch'
  /** Registered upstream sources of the type's task; default all of them. */
  sources?: string[]
  /** Default 'expert-<type>'; a name starting with 'baseline-' makes a baseline card. */
  name?: string
}

/** The training settings every expert and generalist stage takes. */
export interface StageTrainingOptions {
  steps: number
  batchSize: number
  lr: number
  seed: number
  out: string
  resume?: boolean
  log?: { quiet?: boolean }
  /** Steps between checkpoints (default: a tenth of the run, at most 50). */
  checkpointEvery?: number
  /** 'bf16' trains under autocast('bfloat16') with float32 weights (default 'float32'). */
  precision?: Precision
}

/** An expert: the shared backbone (stage keys `backbone.*`) and its per-source heads (`head.*`). */
export class ExpertModel extends Module {
  backbone: Backbone
  head: TaskHead

  constructor(backbone: Backbone, head: TaskHead) {
    super()
    this.backbone = backbone
    this.head = head
  }
}

const EXPERT_TYPES: readonly ExpertType[] = ['C', 'D', 'S']

export function checkExpertType(fn: string, type: unknown): ExpertType {
  if (!EXPERT_TYPES.includes(type as ExpertType))
    throw new Error(`${fn}: expert type must be one of ${EXPERT_TYPES.join(', ')}, got '${String(type)}'`)
  return type as ExpertType
}

/** The expert type recorded in a finished expert (or baseline) stage's card. */
export function expertTypeOf(fn: string, dir: string, card: StageCard): ExpertType {
  const type = card.config?.type
  if ((card.kind !== 'expert' && card.kind !== 'baseline') || !EXPERT_TYPES.includes(type as ExpertType))
    throw new Error(`${fn}: '${dir}' is not an expert stage (its card says kind '${card.kind}')`)
  return type as ExpertType
}

export function checkInteger(fn: string, key: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new Error(`${fn}: ${key} must be an integer >= ${min}, got ${String(v)}`)
  return v
}

export function checkLr(fn: string, lr: unknown): number {
  if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr))
    throw new Error(`${fn}: lr must be a positive number, got ${String(lr)}`)
  return lr
}

/** readStageCard with the caller's name on the error. */
export function parentCard(fn: string, dir: string): StageCard {
  try {
    return readStageCard(dir)
  } catch (e) {
    throw new Error(`${fn}: ${(e as Error).message.replace(/^readStageCard: /, '')}`)
  }
}

/**
 * Refuses to overwrite: a folder with a finished stage is returned as is under `resume` and an
 * error otherwise; a folder with a checkpoint needs `resume` to continue it.
 */
export function checkOut(fn: string, out: string, resume: boolean): StageCard | null {
  if (typeof out !== 'string' || out === '') throw new Error(`${fn}: out must be a folder path`)
  if (fs.existsSync(path.join(out, CARD_FILE))) {
    if (resume) return readStageCard(out)
    throw new Error(`${fn}: '${out}' already holds a finished stage; choose another out folder`)
  }
  if (fs.existsSync(path.join(out, CHECKPOINT_FILE)) && !resume)
    throw new Error(
      `${fn}: '${out}' holds an unfinished stage; pass resume to continue it, or choose another out folder`,
    )
  return null
}

export interface StageRun<B> {
  /** The trainer's name, for errors. */
  fn: string
  out: string
  resume: boolean
  quiet: boolean
  model: Module
  lr: number
  steps: number
  checkpointEvery?: number
  precision?: Precision
  /** Batch i of the run, a pure function of i (exact resume rests on it): `part`'s share of it. */
  batch: (i: number, part: BatchPart) => Promise<B>
  /** The per-source shares of a batch, which the ranks divide among them. */
  shares: number[]
  /** The loss of a batch and its named terms (the model is in train mode; runs in a scope). */
  step: (batch: B) => { loss: Tensor; terms: Record<string, number> }
  card: Omit<StageCard, 'version' | 'steps' | 'seconds' | 'finalLosses' | 'createdAt'>
}

/**
 * Trains `model` for `steps` AdamW steps (weight decay 0.05 off norms and biases, linear warmup
 * from lr/10 over the first 5%, then cosine decay; gradient norm clipped at 5) through fit(),
 * checkpointing into `out` and logging log.jsonl there (stage-log.ts: a resumed run's log reads
 * as one run, and its seconds add up across runs), then writes the stage folder. Under a
 * launcher every rank trains its share of each batch (dataParallel) and rank 0 writes.
 */
export async function runStage<B>(r: StageRun<B>): Promise<StageCard> {
  fs.mkdirSync(r.out, { recursive: true })
  const dp = await dataParallel(r.fn, r.model, { shares: r.shares, quiet: r.quiet })
  const optimizer = new AdamW(paramGroupsNoDecay(r.model.namedParameters(), 0.05), { lr: r.lr })
  const warmup = Math.max(1, Math.round(r.steps * 0.05))
  const scheduler =
    r.steps > warmup
      ? new LRScheduler(optimizer, warmupCosineSchedule({ warmupSteps: warmup, totalSteps: r.steps, startFactor: 0.1 }))
      : undefined
  const logFile = path.join(r.out, LOG_FILE)
  const log = new StageLog(logFile)
  await fit({
    model: r.model,
    optimizer,
    scheduler,
    batches: () =>
      (async function* () {
        for (let i = 0; i < r.steps; i++) yield await r.batch(i, dp)
      })(),
    step: (batch) => {
      const { loss, terms } = r.step(batch)
      return { loss, metrics: terms }
    },
    maxSteps: r.steps,
    clipGradNorm: 5,
    precision: r.precision,
    checkpoint: {
      path: path.join(r.out, CHECKPOINT_FILE),
      every: r.checkpointEvery ?? Math.max(1, Math.min(50, Math.round(r.steps / 10))),
    },
    resume: r.resume,
    log: { quiet: r.quiet, every: Math.max(1, Math.round(r.steps / 20)) },
    onStep: ({ step, lr, loss, metrics }) => {
      const means = dp.mean({ loss, ...metrics })
      if (dp.main) log.write({ step, lr, ...means })
    },
  })
  dp.sync()
  const last: Record<string, number> = readStageLog(logFile).at(-1) ?? {}
  const finalLosses = Object.fromEntries(Object.entries(last).filter(([k]) => k.startsWith('loss')))
  const card: StageCard = {
    ...r.card,
    version: packageVersion(),
    steps: r.steps,
    seconds: last.seconds ?? 0,
    finalLosses,
    createdAt: new Date().toISOString(),
  }
  if (dp.main) saveStage(r.out, r.model, card)
  dp.close()
  return card
}

/** Trains an Up-E expert (or, with init 'scratch', a supervised baseline) and writes its stage folder. */
export async function trainExpert(o: ExpertOptions): Promise<StageCard> {
  const fn = 'trainExpert'
  const type = checkExpertType(fn, o.type)
  checkInteger(fn, 'imageSize', o.imageSize, 16)
  checkInteger(fn, 'steps', o.steps, 1)
  checkInteger(fn, 'batchSize', o.batchSize, 1)
  checkInteger(fn, 'seed', o.seed, 0)
  checkLr(fn, o.lr)
  if (o.checkpointEvery !== undefined) checkInteger(fn, 'checkpointEvery', o.checkpointEvery, 1)
  const names = o.sources ?? listUpstreamSources(EXPERT_TASKS[type]).map((s) => s.name)
  const sources = resolveSources(fn, type, names)
  if (o.batchSize < sources.length)
    throw new Error(`${fn}: batchSize ${o.batchSize} cannot give each of ${sources.length} sources an image per step`)
  const parents: StageCard['parents'] = []
  if (o.init !== 'scratch') {
    const dir = o.init?.amateur
    if (typeof dir !== 'string') throw new Error(`${fn}: init must be 'scratch' or { amateur: <stage folder> }`)
    const card = parentCard(fn, dir)
    if (card.kind !== 'amateur')
      throw new Error(`${fn}: '${dir}' is not an amateur stage (its card says kind '${card.kind}')`)
    if (card.backbone !== o.backbone || card.imageSize !== o.imageSize)
      throw new Error(
        `${fn}: the amateur '${dir}' is ${card.backbone} at ${card.imageSize} px; this expert is ${o.backbone} at ${o.imageSize} px`,
      )
    parents.push({ role: 'amateur', dir })
  }
  const name = o.name ?? `expert-${type}`
  const existing = checkOut(fn, o.out, o.resume ?? false)
  if (existing) return existing

  manualSeed(o.seed)
  let backbone: Backbone
  try {
    backbone = parents.length
      ? loadStageBackbone(parents[0].dir, { backbone: o.backbone })
      : createModel(o.backbone, { imageSize: o.imageSize })
  } catch (e) {
    throw new Error(`${fn}: ${(e as Error).message}`)
  }
  const model = new ExpertModel(backbone, createTaskHead(type, backbone, sources))
  const share = shares(o.batchSize, sources.length)
  const datasets = sources.map((s, i) => s.create({ size: o.steps * share[i], imageSize: o.imageSize, split: 'train' }))
  const batches = new BalancedBatches(sources, datasets, share, o.seed)
  return runStage({
    fn,
    out: o.out,
    resume: o.resume ?? false,
    quiet: o.log?.quiet ?? false,
    model,
    lr: o.lr,
    steps: o.steps,
    checkpointEvery: o.checkpointEvery,
    precision: o.precision,
    batch: (i, part) => batches.get(i, part),
    shares: share,
    step: (raw) => model.head.loss(model.backbone, toSourceBatches(raw)),
    card: {
      name,
      kind: name.startsWith('baseline-') ? 'baseline' : 'expert',
      backbone: o.backbone,
      imageSize: o.imageSize,
      sources: sources.map((s) => s.name),
      batchSize: o.batchSize,
      parents,
      config: {
        type,
        init: o.init,
        lr: o.lr,
        seed: o.seed,
        batchSize: o.batchSize,
        steps: o.steps,
        precision: o.precision ?? 'float32',
      },
    },
  })
}

/** An expert stage folder rebuilt: its backbone and heads with their trained weights. */
export function loadExpert(dir: string): { type: ExpertType; card: StageCard; model: ExpertModel } {
  const fn = 'loadExpert'
  const card = parentCard(fn, dir)
  const type = expertTypeOf(fn, dir, card)
  const backbone = loadStageBackbone(dir)
  const head = createTaskHead(type, backbone, resolveSources(fn, type, card.sources))
  head.loadStateDict(readStageWeights(dir, 'head.'))
  return { type, card, model: new ExpertModel(backbone, head) }
}

/**
 * The expert's own metric on each of its sources' held-out upstream val split (`size` images
 * each, default 500): C top-1 accuracy, D AP at IoU 0.5, S mIoU.
 */
export async function evaluateExpert(dir: string, opts: { size?: number } = {}): Promise<Record<string, number>> {
  const size = checkInteger('evaluateExpert', 'size', opts.size ?? 500, 1)
  const { model, card } = loadExpert(dir)
  return evaluateHeads(model.head, model.backbone, card.imageSize, size)
}

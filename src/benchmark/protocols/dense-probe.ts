// Frozen-backbone dense heads (GV-B's detection, segmentation and depth protocol): the backbone's
// multi-scale maps are computed once (features.ts) and only the head trains on them — a Detector
// (FPN + FCOS) scored by map50 (or mr2 on the task's "reasonable" subset), a SegmentationHead by
// miou, a DepthHead by rmse (and delta1). AdamW with warmup and cosine decay, a fixed CPU-sized
// number of steps, no hyper-parameter sweep; the test split is read once, after training.
import { fit } from '../../train/fit'
import { noGrad } from '../../autograd/grad-mode'
import { scope } from '../../tensor/memory'
import type { Backbone } from '../../models/zoo'
import type { ResultRow } from '../results'
import type { BenchmarkTask } from '../tasks'
import {
  adamW,
  checkContext,
  checkTrainOptions,
  epochBatches,
  resultRow,
  withSeed,
  type RunContext,
  type TrainOptions,
} from './common'
import { FeatureCache, levelTensors, type FeatureSet } from './features'
import { createTaskHead, type BackboneShape, type Scorer, type TaskHead } from './task-heads'

export interface DenseProbeOptions {
  /** Optimizer steps. Default 300. */
  steps?: number
  /** Default 16. */
  batchSize?: number
  /** AdamW peak learning rate. Default 1e-3. */
  lr?: number
  /** Default 1e-4 (norms and biases take none). */
  weightDecay?: number
}

const denseOptions = (fn: string, options: DenseProbeOptions): TrainOptions =>
  checkTrainOptions(fn, { steps: 300, batchSize: 16, lr: 1e-3, weightDecay: 1e-4, ...options })

/** Images per batch when scoring (no gradients are kept, so larger than a training batch). */
export const SCORE_BATCH = 64

/** A head trained on a task's few-shot subset, before it has seen the test split. */
export interface DenseProbe {
  task: string
  head: TaskHead
  /** The training loss of every step. */
  losses: number[]
  trainImages: number
  options: TrainOptions
  seconds: number
}

/** Runs a head over a feature set in batches (eval mode, no grad) and gives its scores. */
export function scoreFeatureSet(head: TaskHead, set: FeatureSet, batchSize: number): ReturnType<Scorer['result']> {
  const scorer = head.scorer()
  head.module.eval()
  for (let at = 0; at < set.size; at += batchSize) {
    const rows = Int32Array.from({ length: Math.min(batchSize, set.size - at) }, (_, k) => at + k)
    scope(() =>
      noGrad(() =>
        scorer.add(
          levelTensors(set, rows),
          Array.from(rows, (r) => set.targets[r]),
        ),
      ),
    )
  }
  return scorer.result()
}

/**
 * Trains a fresh head for `task` on a feature set (frozen maps of the backbone, or any rows of
 * them) with seeded initialisation and batch order; the core of the dense probe.
 */
export async function fitDenseHead(
  backbone: BackboneShape,
  task: BenchmarkTask,
  features: FeatureSet,
  seed: number,
  options: DenseProbeOptions = {},
): Promise<{ head: TaskHead; losses: number[]; options: TrainOptions }> {
  const o = denseOptions('fitDenseHead', options)
  return withSeed(seed, `dense:${task.name}`, async () => {
    const head = createTaskHead(task, backbone)
    const { optimizer, scheduler } = adamW([{ named: head.module.namedParameters(), lr: o.lr }], o)
    const perEpoch = epochBatches(features.size, o.batchSize, seed, 0).length
    const { losses } = await fit({
      model: head.module,
      optimizer,
      scheduler,
      epochs: Math.ceil(o.steps / perEpoch),
      maxSteps: o.steps,
      batches: (epoch) => epochBatches(features.size, o.batchSize, seed, epoch),
      step: (rows: Int32Array) =>
        head.loss(
          levelTensors(features, rows),
          Array.from(rows, (r) => features.targets[r]),
        ),
      log: { quiet: true },
    })
    return { head, losses, options: o }
  })
}

/** Trains the task's head on `backbone`'s frozen maps of the few-shot subset; never reads the test split. */
export async function trainDenseProbe(
  backbone: Backbone,
  task: BenchmarkTask,
  ctx: RunContext,
  options: DenseProbeOptions = {},
): Promise<DenseProbe> {
  const fn = 'trainDenseProbe'
  checkContext(fn, task, ctx)
  if (task.type === 'classification')
    throw new Error(`${fn}: task '${task.name}' is a classification task (use trainLinearProbe)`)
  denseOptions(fn, options)
  const started = performance.now()
  const cache = ctx.cache ?? new FeatureCache()
  const indices = await task.shotIndices(ctx.percent, ctx.seed)
  const features = await cache.get(backbone, task, 'train', 'maps', indices)
  const { head, losses, options: o } = await fitDenseHead(backbone, task, features, ctx.seed, options)
  return {
    task: task.name,
    head,
    losses,
    trainImages: indices.length,
    options: o,
    seconds: (performance.now() - started) / 1000,
  }
}

/** Scores a trained dense probe on the task's test split: the row of the benchmark. */
export async function scoreDenseProbe(
  probe: DenseProbe,
  backbone: Backbone,
  task: BenchmarkTask,
  ctx: RunContext,
): Promise<ResultRow> {
  if (probe.task !== task.name)
    throw new Error(`scoreDenseProbe: the probe was trained on '${probe.task}', not '${task.name}'`)
  const started = performance.now()
  const cache = ctx.cache ?? new FeatureCache()
  const test = await cache.get(backbone, task, 'test', 'maps')
  const { value, extra } = scoreFeatureSet(probe.head, test, SCORE_BATCH)
  const chosen = {
    lr: probe.options.lr,
    weightDecay: probe.options.weightDecay,
    steps: probe.options.steps,
    trainImages: probe.trainImages,
  }
  return resultRow(
    task,
    ctx,
    'linear',
    value,
    { ...extra, ...chosen },
    probe.seconds + (performance.now() - started) / 1000,
  )
}

/** The frozen-backbone dense protocol end to end. */
export async function denseProbe(
  backbone: Backbone,
  task: BenchmarkTask,
  ctx: RunContext,
  options: DenseProbeOptions = {},
): Promise<ResultRow> {
  const shared = { ...ctx, cache: ctx.cache ?? new FeatureCache() }
  return scoreDenseProbe(await trainDenseProbe(backbone, task, shared, options), backbone, task, shared)
}

// The linear probe (GV-B's classification protocol): the backbone is frozen, its pooled features
// are computed once (features.ts), and a linear classifier is trained on them with the released
// recipe — SGD, momentum 0.9, step decay x0.1 at 30%, 60% and 90% of the iterations, batch 64, no
// augmentation — at a CPU-sized number of iterations. Features are standardised with the
// training rows' mean and variance, so one lr grid fits every backbone whatever its feature
// scale. The lr and weight decay are chosen by a small sweep scored on a held-out part of the
// few-shot TRAIN subset only; the test split is read once, after training, to score.
import { fit } from '../../train/fit'
import { noGrad } from '../../autograd/grad-mode'
import { Linear } from '../../nn'
import { normal_ } from '../../nn/init'
import { crossEntropy } from '../../ops'
import { LRScheduler, multiStepSchedule, SGD } from '../../optim'
import { tensor } from '../../tensor/creation'
import { scope } from '../../tensor/memory'
import { Generator } from '../../tensor/random'
import type { Backbone } from '../../models/zoo'
import type { ResultRow } from '../results'
import type { BenchmarkTask } from '../tasks'
import {
  checkContext,
  classificationMetric,
  epochBatches,
  holdOutSplit,
  labelsOf,
  resultRow,
  scoreClasses,
  withSeed,
  type RunContext,
} from './common'
import { FeatureCache } from './features'

export interface LinearProbeOptions {
  /** SGD iterations of every fit (the released code runs 10k at batch 64). Default 500. */
  iterations?: number
  /** Default 64. */
  batchSize?: number
  /** The sweep's learning rates; the first (lr, weight decay) pair wins ties. Default [0.01, 0.1, 0.001]. */
  lrs?: number[]
  /** The sweep's weight decays. Default [1e-3, 1e-2]. */
  weightDecays?: number[]
  /** Share of the few-shot subset held out to score the sweep. Default 0.2. */
  heldOut?: number
  /** Standardise features with the training rows' statistics. Default true. */
  standardize?: boolean
}

const DEFAULTS: Required<LinearProbeOptions> = {
  iterations: 500,
  batchSize: 64,
  lrs: [0.01, 0.1, 0.001],
  weightDecays: [1e-3, 1e-2],
  heldOut: 0.2,
  standardize: true,
}

export function linearProbeDefaults(options: LinearProbeOptions = {}): Required<LinearProbeOptions> {
  const o = { ...DEFAULTS, ...options }
  const fn = 'linearProbe'
  for (const k of ['iterations', 'batchSize'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`${fn}: ${k} must be a positive integer, got ${o[k]}`)
  }
  for (const k of ['lrs', 'weightDecays'] as const) {
    if (
      !Array.isArray(o[k]) ||
      o[k].length === 0 ||
      o[k].some((v) => !(Number.isFinite(v) && v >= 0) || (k === 'lrs' && v === 0))
    ) {
      throw new RangeError(
        `${fn}: ${k} must be a non-empty list of ${k === 'lrs' ? 'positive' : 'non-negative'} numbers, got ${JSON.stringify(o[k])}`,
      )
    }
  }
  if (!(o.heldOut >= 0 && o.heldOut < 1)) throw new RangeError(`${fn}: heldOut must be in [0, 1), got ${o.heldOut}`)
  return o
}

/** A trained linear classifier on host arrays: logits = ((x - mean) * scale) W^T + b. */
export interface LinearClassifier {
  dim: number
  numClasses: number
  mean: Float32Array
  scale: Float32Array
  /** [numClasses, dim] row-major. */
  weight: Float32Array
  bias: Float32Array
}

/**
 * Per-feature mean and 1/std of `rows` of x ([n, dim]); the variance is floored at 1e-4 of the
 * mean variance so a feature constant on the training rows cannot blow up on the test rows.
 */
function statistics(
  x: Float32Array,
  dim: number,
  rows: Int32Array,
  standardize: boolean,
): { mean: Float32Array; scale: Float32Array } {
  const mean = new Float32Array(dim)
  const scale = new Float32Array(dim).fill(1)
  if (!standardize) return { mean, scale }
  const sum = new Float64Array(dim)
  const sq = new Float64Array(dim)
  for (const r of rows) {
    for (let j = 0; j < dim; j++) {
      const v = x[r * dim + j]
      sum[j] += v
      sq[j] += v * v
    }
  }
  const n = rows.length
  const variance = Array.from(sum, (s, j) => Math.max(0, sq[j] / n - (s / n) ** 2))
  const floor = 1e-4 * (variance.reduce((a, b) => a + b, 0) / dim) + 1e-12
  for (let j = 0; j < dim; j++) {
    mean[j] = sum[j] / n
    scale[j] = 1 / Math.sqrt(variance[j] + floor)
  }
  return { mean, scale }
}

function standardized(
  x: Float32Array,
  dim: number,
  rows: ArrayLike<number>,
  mean: Float32Array,
  scale: Float32Array,
): Float32Array {
  const out = new Float32Array(rows.length * dim)
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]
    for (let j = 0; j < dim; j++) out[k * dim + j] = (x[r * dim + j] - mean[j]) * scale[j]
  }
  return out
}

/**
 * Trains a linear classifier on rows `rows` of features x ([n, dim]) with labels y (one per
 * row of x): weights from N(0, 0.01), bias 0, then `iterations` SGD steps over seeded batches.
 */
export async function fitLinearClassifier(
  x: Float32Array,
  y: Int32Array,
  dim: number,
  numClasses: number,
  rows: Int32Array,
  o: { lr: number; weightDecay: number; iterations: number; batchSize: number; seed: number; standardize: boolean },
): Promise<LinearClassifier> {
  const { mean, scale } = statistics(x, dim, rows, o.standardize)
  const data = standardized(x, dim, rows, mean, scale)
  const labels = Int32Array.from(rows, (r) => y[r])
  const model = new Linear(dim, numClasses)
  normal_(model.weight, 0, 0.01, { generator: new Generator(o.seed) })
  noGrad(() => model.bias!.zero_())
  const optimizer = new SGD(model.parameters(), { lr: o.lr, momentum: 0.9, weightDecay: o.weightDecay })
  const milestones = [0.3, 0.6, 0.9].map((f) => Math.round(f * o.iterations))
  const scheduler = new LRScheduler(optimizer, multiStepSchedule({ milestones, gamma: 0.1 }))
  const perEpoch = epochBatches(rows.length, o.batchSize, o.seed, 0).length
  await fit({
    model,
    optimizer,
    scheduler,
    epochs: Math.ceil(o.iterations / perEpoch),
    maxSteps: o.iterations,
    batches: (epoch) => epochBatches(rows.length, o.batchSize, o.seed, epoch),
    step: (batch: Int32Array, m) => {
      const xb = new Float32Array(batch.length * dim)
      batch.forEach((r, k) => xb.set(data.subarray(r * dim, (r + 1) * dim), k * dim))
      const logits = (m as Linear).forward(tensor(xb, { shape: [batch.length, dim] }))
      return crossEntropy(logits, tensor(Int32Array.from(batch, (r) => labels[r])))
    },
    log: { quiet: true },
  })
  return {
    dim,
    numClasses,
    mean,
    scale,
    weight: model.weight.data() as Float32Array,
    bias: model.bias!.data() as Float32Array,
  }
}

/** The predicted class of every row of x ([n, dim]). */
export function predictLinear(c: LinearClassifier, x: Float32Array): Int32Array {
  const n = x.length / c.dim
  const rows = Int32Array.from({ length: n }, (_, i) => i)
  const z = standardized(x, c.dim, rows, c.mean, c.scale)
  return scope(() =>
    noGrad(() => {
      const logits = tensor(z, { shape: [n, c.dim] })
        .matmul(tensor(c.weight, { shape: [c.numClasses, c.dim] }).t())
        .add(tensor(c.bias))
      return Int32Array.from(logits.argmax(1).data())
    }),
  )
}

export interface LinearSelection {
  classifier: LinearClassifier
  lr: number
  weightDecay: number
  /** The chosen pair's metric on the held-out rows; absent when the subset was too small to hold any out. */
  heldOutValue?: number
  /** Every pair tried, with its held-out metric (-Infinity or Infinity for a fit that diverged). */
  sweep: { lr: number; weightDecay: number; value: number }[]
}

/**
 * The sweep: each (lr, weight decay) is fitted on the fitting part of x's rows and scored with
 * `metric` on the held-out part (higher better when `higher`); the best pair is then refitted on
 * every row. With nothing held out (tiny subsets) the first pair is used as is.
 */
export async function selectLinearClassifier(
  x: Float32Array,
  y: Int32Array,
  dim: number,
  numClasses: number,
  options: LinearProbeOptions & {
    seed: number
    metric: (pred: Int32Array, target: Int32Array) => number
    higher?: boolean
  },
): Promise<LinearSelection> {
  const o = linearProbeDefaults(options)
  const higher = options.higher ?? true
  const all = Int32Array.from(y.keys())
  const { fit: fitRows, heldOut } = holdOutSplit(y, o.heldOut, options.seed)
  const pairs = o.lrs.flatMap((lr) => o.weightDecays.map((weightDecay) => ({ lr, weightDecay })))
  const common = { iterations: o.iterations, batchSize: o.batchSize, seed: options.seed, standardize: o.standardize }
  const sweep: LinearSelection['sweep'] = []
  let best = { ...pairs[0], value: NaN }
  if (heldOut.length > 0 && fitRows.length > 0 && pairs.length > 1) {
    const heldX = new Float32Array(heldOut.length * dim)
    heldOut.forEach((r, k) => heldX.set(x.subarray(r * dim, (r + 1) * dim), k * dim))
    const heldY = Int32Array.from(heldOut, (r) => y[r])
    for (const p of pairs) {
      let value: number
      try {
        const c = await fitLinearClassifier(x, y, dim, numClasses, fitRows, { ...common, ...p })
        value = options.metric(predictLinear(c, heldX), heldY)
      } catch (e) {
        if (!/the loss became/.test((e as Error).message)) throw e
        value = higher ? -Infinity : Infinity
      }
      sweep.push({ ...p, value })
      if (Number.isNaN(best.value) || (higher ? value > best.value : value < best.value)) best = { ...p, value }
    }
  }
  const classifier = await fitLinearClassifier(x, y, dim, numClasses, all, {
    ...common,
    lr: best.lr,
    weightDecay: best.weightDecay,
  })
  return {
    classifier,
    lr: best.lr,
    weightDecay: best.weightDecay,
    ...(Number.isFinite(best.value) ? { heldOutValue: best.value } : {}),
    sweep,
  }
}

/** A probe trained on a task's few-shot subset, before it has seen the test split. */
export interface LinearProbe extends LinearSelection {
  task: string
  trainImages: number
  iterations: number
  /** Seconds spent training (features included when they were computed now). */
  seconds: number
}

/** Trains the linear probe of `task` on `backbone`'s frozen pooled features; never reads the test split. */
export async function trainLinearProbe(
  backbone: Backbone,
  task: BenchmarkTask,
  ctx: RunContext,
  options: LinearProbeOptions = {},
): Promise<LinearProbe> {
  const fn = 'trainLinearProbe'
  checkContext(fn, task, ctx)
  if (task.type !== 'classification')
    throw new Error(
      `${fn}: task '${task.name}' is a ${task.type} task; the linear probe classifies (use trainDenseProbe)`,
    )
  const o = linearProbeDefaults(options)
  const started = performance.now()
  const cache = ctx.cache ?? new FeatureCache()
  const indices = await task.shotIndices(ctx.percent, ctx.seed)
  const features = await cache.get(backbone, task, 'train', 'pooled', indices)
  const y = labelsOf(task, features.targets)
  const selection = await withSeed(ctx.seed, `linear:${task.name}`, () =>
    selectLinearClassifier(features.levels[0], y, features.shapes[0][0], task.numClasses, {
      ...o,
      seed: ctx.seed,
      metric: (pred, target) => classificationMetric(task.metric, pred, target, task.numClasses),
      higher: task.direction === 'higher',
    }),
  )
  return {
    ...selection,
    task: task.name,
    trainImages: indices.length,
    iterations: o.iterations,
    seconds: (performance.now() - started) / 1000,
  }
}

/** Scores a trained probe on the task's test split: the row of the benchmark. */
export async function scoreLinearProbe(
  probe: LinearProbe,
  backbone: Backbone,
  task: BenchmarkTask,
  ctx: RunContext,
): Promise<ResultRow> {
  if (probe.task !== task.name)
    throw new Error(`scoreLinearProbe: the probe was trained on '${probe.task}', not '${task.name}'`)
  const started = performance.now()
  const cache = ctx.cache ?? new FeatureCache()
  const test = await cache.get(backbone, task, 'test', 'pooled')
  const { value, extra } = scoreClasses(
    task,
    predictLinear(probe.classifier, test.levels[0]),
    labelsOf(task, test.targets),
  )
  const chosen: Record<string, number> = {
    lr: probe.lr,
    weightDecay: probe.weightDecay,
    iterations: probe.iterations,
    trainImages: probe.trainImages,
    ...(probe.heldOutValue !== undefined ? { heldOutValue: probe.heldOutValue } : {}),
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

/** The linear probe end to end: train on the few-shot subset, then score on the test split. */
export async function linearProbe(
  backbone: Backbone,
  task: BenchmarkTask,
  ctx: RunContext,
  options: LinearProbeOptions = {},
): Promise<ResultRow> {
  const shared = { ...ctx, cache: ctx.cache ?? new FeatureCache() }
  return scoreLinearProbe(await trainLinearProbe(backbone, task, shared, options), backbone, task, shared)
}

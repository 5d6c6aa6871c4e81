// What every protocol shares: the run's identity (method, percent, seed), seeding, seeded batch
// orders, the hold-out split for hyper-parameter selection, and scoring against the task's metric.
import { Rng, mixSeed, stringKey } from '../../data/rng'
import { AdamW, cosineSchedule, LRScheduler, paramGroupsNoDecay, warmupCosineSchedule } from '../../optim'
import { defaultGenerator } from '../../tensor/random'
import type { Tensor } from '../../tensor/tensor'
import { accuracy, meanPerClassAccuracy } from '../metrics'
import type { Protocol, ResultRow } from '../results'
import type { BenchmarkTask, MetricName } from '../tasks'
import type { FeatureCache } from './features'

/** Which run of a protocol this is. */
export interface RunContext {
  /** The method id the row is filed under (ResultRow.method). */
  method: string
  /** Percentage of the task's training split (its shipped shot list for that percent and seed). */
  percent: number
  seed: number
  /** Where frozen features are kept between runs; a fresh in-memory cache when absent. */
  cache?: FeatureCache
}

export function checkContext(fn: string, task: BenchmarkTask, ctx: RunContext): void {
  if (typeof ctx?.method !== 'string' || ctx.method === '')
    throw new Error(`${fn}: method must be a non-empty string, got ${JSON.stringify(ctx?.method)}`)
  if (typeof ctx.percent !== 'number' || !(ctx.percent > 0 && ctx.percent <= 100))
    throw new RangeError(`${fn}: percent must be in (0, 100], got ${ctx.percent}`)
  if (!Number.isSafeInteger(ctx.seed) || ctx.seed < 0)
    throw new RangeError(`${fn}: seed must be a non-negative integer, got ${ctx.seed}`)
  if (!task || typeof task.train !== 'function') throw new Error(`${fn}: expected a BenchmarkTask (getTask(name))`)
}

/**
 * Runs fn with the default generator seeded from (seed, key), so that module initialisation and
 * anything else drawing from it repeat exactly; the generator's state is restored afterwards.
 */
export async function withSeed<T>(seed: number, key: string, fn: () => Promise<T>): Promise<T> {
  const saved = defaultGenerator.getState()
  defaultGenerator.manualSeed(mixSeed(seed, stringKey(key)))
  try {
    return await fn()
  } finally {
    defaultGenerator.setState(saved)
  }
}

/**
 * The batches of one epoch over n rows: a permutation drawn from (seed, epoch), cut into
 * batchSize pieces; a last partial piece is dropped unless it is the only one.
 */
export function epochBatches(n: number, batchSize: number, seed: number, epoch: number): Int32Array[] {
  const order = new Rng(mixSeed(seed, epoch)).permutation(n)
  const b = Math.min(batchSize, n)
  const out: Int32Array[] = []
  for (let at = 0; at + b <= n; at += b) out.push(order.slice(at, at + b))
  return out
}

/**
 * Splits rows (by label, so each class keeps its share) into a fitting part and a held-out part of
 * about `fraction`; a class with fewer than 1/fraction rows stays whole in the fitting part.
 */
export function holdOutSplit(
  labels: Int32Array,
  fraction: number,
  seed: number,
): { fit: Int32Array; heldOut: Int32Array } {
  const byClass = new Map<number, number[]>()
  labels.forEach((c, i) => byClass.set(c, [...(byClass.get(c) ?? []), i]))
  const heldOut: number[] = []
  for (const [c, rows] of [...byClass].sort((a, b) => a[0] - b[0])) {
    const shuffled = new Rng(mixSeed(seed, c + 1)).shuffle([...rows]) as number[]
    heldOut.push(...shuffled.slice(0, Math.floor(rows.length * fraction)))
  }
  const out = new Set(heldOut)
  return {
    fit: Int32Array.from(labels.keys()).filter((i) => !out.has(i)),
    heldOut: Int32Array.from(heldOut).sort(),
  }
}

/** Class-prediction metrics by name. */
export function classificationMetric(
  name: MetricName,
  pred: Int32Array,
  target: Int32Array,
  numClasses: number,
): number {
  if (name === 'top1') return accuracy(pred, target)
  if (name === 'meanPerClassAccuracy') return meanPerClassAccuracy(pred, target, numClasses)
  throw new Error(`classificationMetric: '${name}' is not a classification metric`)
}

/** The task's metric and its extra metrics for class predictions. */
export function scoreClasses(
  task: BenchmarkTask,
  pred: Int32Array,
  target: Int32Array,
): { value: number; extra: Record<string, number> } {
  const extra: Record<string, number> = {}
  for (const m of task.extraMetrics) extra[m] = classificationMetric(m, pred, target, task.numClasses)
  return { value: classificationMetric(task.metric, pred, target, task.numClasses), extra }
}

/** True when `a` is a better value of the task's metric than `b`. */
export function better(task: BenchmarkTask, a: number, b: number): boolean {
  return task.direction === 'higher' ? a > b : a < b
}

export function resultRow(
  task: BenchmarkTask,
  ctx: RunContext,
  protocol: Protocol,
  value: number,
  extra: Record<string, number>,
  seconds: number,
): ResultRow {
  for (const [name, v] of [[task.metric, value], ...Object.entries(extra)] as [string, number][]) {
    if (!Number.isFinite(v))
      throw new Error(`${protocol} protocol on '${task.name}': ${name} came out ${v}, not a finite number`)
  }
  return { method: ctx.method, task: task.name, percent: ctx.percent, protocol, seed: ctx.seed, value, extra, seconds }
}

/** The task's labels (classification) of a set of targets. */
export function labelsOf(task: BenchmarkTask, targets: { labels?: Record<string, number> }[]): Int32Array {
  const space = task.labelSpace as string
  return Int32Array.from(targets, (t) => t.labels![space])
}

/** The training settings of the dense probe and of fine-tuning. */
export interface TrainOptions {
  steps: number
  batchSize: number
  lr: number
  weightDecay: number
}

export function checkTrainOptions<T extends TrainOptions>(fn: string, o: T): T {
  for (const k of ['steps', 'batchSize'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`${fn}: ${k} must be a positive integer, got ${o[k]}`)
  }
  if (!(Number.isFinite(o.lr) && o.lr > 0)) throw new RangeError(`${fn}: lr must be a positive number, got ${o.lr}`)
  if (!(Number.isFinite(o.weightDecay) && o.weightDecay >= 0))
    throw new RangeError(`${fn}: weightDecay must be a number >= 0, got ${o.weightDecay}`)
  return o
}

/**
 * AdamW over parts of a model, each at its own peak lr (norms and biases take no weight decay),
 * warmed up linearly from a tenth over the first 10% of the steps, then cosine-decayed to zero.
 */
export function adamW(
  parts: { named: Iterable<readonly [string, Tensor]>; lr: number }[],
  o: TrainOptions,
): { optimizer: AdamW; scheduler: LRScheduler } {
  const groups = parts
    .flatMap(({ named, lr }) => paramGroupsNoDecay(named, o.weightDecay).map((g) => ({ ...g, lr })))
    .filter((g) => g.params.length > 0)
  const optimizer = new AdamW(groups, { lr: o.lr })
  const schedule =
    o.steps >= 10
      ? warmupCosineSchedule({ warmupSteps: Math.ceil(o.steps / 10), totalSteps: o.steps, startFactor: 0.1 })
      : cosineSchedule({ totalSteps: o.steps })
  const scheduler = new LRScheduler(optimizer, schedule)
  return { optimizer, scheduler }
}

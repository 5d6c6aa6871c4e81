// Down-A: downstream adaptation that uses the generalist's structure. The paper names it ("a
// proxy for flexible knowledge transfer") and publishes no method, so this is our design:
// a generalist offers several feature *views* of one image — its main branch (with the
// transfers), each frozen expert branch on its own, all branches side by side, and the main
// branch's pooled multi-scale maps — and which view serves a new task best differs by task
// (a detection expert's maps for detection, the classification branch for fine-grained labels).
// Down-A picks the view by cross-validation on the few-shot TRAIN subset only, then trains the
// task's usual frozen-backbone protocol on the chosen view and scores it once on the test split.
//   classification: stratified k-fold CV of a linear classifier per view, then the probe's own
//                   (lr, weight decay) sweep on the chosen view;
//   dense tasks:    a head per view trained on a seeded 80% of the subset and scored on the
//                   other 20%, then a head on the whole subset for the chosen view.
// Any backbone works: a plain one has the views 'main' and 'multi-scale'.
import type { Backbone } from '../models/zoo'
import { Module } from '../nn'
import { cat } from '../ops'
import type { Tensor } from '../tensor/tensor'
import { Rng, mixSeed } from '../data/rng'
import {
  better,
  checkContext,
  classificationMetric,
  labelsOf,
  resultRow,
  withSeed,
  type RunContext,
} from '../benchmark/protocols/common'
import { FeatureCache, selectRows } from '../benchmark/protocols/features'
import {
  fitLinearClassifier,
  linearProbeDefaults,
  predictLinear,
  scoreLinearProbe,
  trainLinearProbe,
  type LinearProbeOptions,
} from '../benchmark/protocols/linear-probe'
import {
  fitDenseHead,
  scoreDenseProbe,
  scoreFeatureSet,
  SCORE_BATCH,
  trainDenseProbe,
  type DenseProbeOptions,
} from '../benchmark/protocols/dense-probe'
import type { ResultRow } from '../benchmark/results'
import type { BenchmarkTask } from '../benchmark/tasks'
import { Generalist } from './generalist'
import type { StagedBackbone } from './transfer'

/** One way of reading features from a backbone; itself a Backbone, so every protocol runs on it. */
export interface FeatureView {
  name: string
  backbone: Backbone
}

/** A frozen expert branch of a generalist, read on its own. */
class ExpertBranch extends Module implements Backbone {
  constructor(
    readonly type: string,
    readonly branch: StagedBackbone,
  ) {
    super()
  }
  get featureChannels(): number[] {
    return this.branch.featureChannels
  }
  get featureStrides(): number[] {
    return this.branch.featureStrides
  }
  get pooledDim(): number {
    return this.branch.pooledDim
  }
  forwardFeatures(x: Tensor): Tensor[] {
    return this.branch.forwardFeatures(x)
  }
  forwardPooled(x: Tensor): Tensor {
    return this.branch.forwardPooled(x)
  }
  override forward(x: Tensor): Tensor {
    return this.forwardPooled(x)
  }
}

/** Every branch of a generalist side by side: pooled features and maps concatenated over channels. */
class ConcatBranches extends Module implements Backbone {
  constructor(readonly generalist: Generalist) {
    super()
  }
  private get branches(): Backbone[] {
    return [this.generalist, ...(this.generalist.aux.children() as StagedBackbone[])]
  }
  get featureChannels(): number[] {
    return this.generalist.featureChannels.map((_, l) => this.branches.reduce((n, b) => n + b.featureChannels[l], 0))
  }
  get featureStrides(): number[] {
    return this.generalist.featureStrides
  }
  get pooledDim(): number {
    return this.branches.reduce((n, b) => n + b.pooledDim, 0)
  }
  forwardFeatures(x: Tensor): Tensor[] {
    const perBranch = this.generalist.expertFeatures(x)
    return perBranch[0].map((_, l) =>
      cat(
        perBranch.map((f) => f[l]),
        1,
      ),
    )
  }
  forwardPooled(x: Tensor): Tensor {
    return cat(
      this.branches.map((b) => b.forwardPooled(x)),
      1,
    )
  }
  override forward(x: Tensor): Tensor {
    return this.forwardPooled(x)
  }
}

/** The pooled feature with every feature map's global average beside it (low- and high-level cues). */
class MultiScalePooled extends Module implements Backbone {
  constructor(readonly inner: Backbone) {
    super()
  }
  get featureChannels(): number[] {
    return this.inner.featureChannels
  }
  get featureStrides(): number[] {
    return this.inner.featureStrides
  }
  get pooledDim(): number {
    return this.inner.featureChannels.reduce((a, b) => a + b, 0) + this.inner.pooledDim
  }
  forwardFeatures(x: Tensor): Tensor[] {
    return this.inner.forwardFeatures(x)
  }
  forwardPooled(x: Tensor): Tensor {
    const maps = this.inner.forwardFeatures(x).map((f) => f.mean([2, 3]))
    return cat([...maps, this.inner.forwardPooled(x)], 1)
  }
  override forward(x: Tensor): Tensor {
    return this.forwardPooled(x)
  }
}

/**
 * The views Down-A chooses among for a task type. Classification: main, multi-scale, and for a
 * generalist each expert branch and all branches concatenated. Dense tasks read maps, so
 * multi-scale (a pooled view) is left out.
 */
export function featureViews(backbone: Backbone, type: BenchmarkTask['type']): FeatureView[] {
  const views: FeatureView[] = [{ name: 'main', backbone }]
  if (type === 'classification') views.push({ name: 'multi-scale', backbone: new MultiScalePooled(backbone) })
  if (backbone instanceof Generalist && backbone.types.length > 1) {
    const aux = backbone.aux.children() as StagedBackbone[]
    aux.forEach((b, i) =>
      views.push({ name: `expert-${backbone.types[i + 1]}`, backbone: new ExpertBranch(backbone.types[i + 1], b) }),
    )
    views.push({ name: 'concat', backbone: new ConcatBranches(backbone) })
  }
  return views
}

/** Fold of every row (0..k-1), dealt class by class from a seeded shuffle so each fold keeps the class mix. */
export function stratifiedFolds(labels: Int32Array, k: number, seed: number): Int32Array {
  const fold = new Int32Array(labels.length)
  const byClass = new Map<number, number[]>()
  labels.forEach((c, i) => byClass.set(c, [...(byClass.get(c) ?? []), i]))
  let next = 0
  for (const [c, rows] of [...byClass].sort((a, b) => a[0] - b[0])) {
    const shuffled = new Rng(mixSeed(seed, c + 1)).shuffle([...rows]) as number[]
    // Continue dealing where the last class stopped, so small classes do not all land in fold 0.
    for (const r of shuffled) fold[r] = next++ % k
  }
  return fold
}

export interface DownAOptions {
  /** CV folds for classification. Default 3. */
  folds?: number
  /** Share of the subset held out to choose a dense task's view. Default 0.2. */
  heldOut?: number
  /** Only these views (by name); default every view of featureViews. */
  views?: string[]
  linear?: LinearProbeOptions
  dense?: DenseProbeOptions
}

export interface DownASelection {
  view: string
  /** Each view's selection score (CV mean for classification, held-out metric for dense tasks). */
  scores: Record<string, number>
}

function chooseViews(fn: string, all: FeatureView[], names?: string[]): FeatureView[] {
  if (!names) return all
  const unknown = names.filter((n) => !all.some((v) => v.name === n))
  if (unknown.length)
    throw new Error(
      `${fn}: unknown view(s) ${unknown.join(', ')}; this backbone has ${all.map((v) => v.name).join(', ')}`,
    )
  return all.filter((v) => names.includes(v.name))
}

/** Chooses the view for a task from its few-shot train subset alone; the test split is never read. */
export async function selectView(
  backbone: Backbone,
  task: BenchmarkTask,
  ctx: RunContext,
  o: DownAOptions = {},
): Promise<DownASelection> {
  const fn = 'selectView'
  checkContext(fn, task, ctx)
  const folds = o.folds ?? 3
  const heldOut = o.heldOut ?? 0.2
  if (!Number.isInteger(folds) || folds < 2) throw new RangeError(`${fn}: folds must be an integer >= 2, got ${folds}`)
  if (!(heldOut > 0 && heldOut < 1)) throw new RangeError(`${fn}: heldOut must be in (0, 1), got ${heldOut}`)
  const views = chooseViews(fn, featureViews(backbone, task.type), o.views)
  const cache = ctx.cache ?? new FeatureCache()
  const indices = await task.shotIndices(ctx.percent, ctx.seed)
  const scores: Record<string, number> = {}
  if (views.length === 1) return { view: views[0].name, scores }
  for (const view of views) {
    scores[view.name] = await withSeed(ctx.seed, `down-a:${task.name}:${view.name}`, () =>
      task.type === 'classification'
        ? crossValidateLinear(view.backbone, task, ctx, cache, indices, folds, o.linear)
        : holdOutDense(view.backbone, task, ctx, cache, indices, heldOut, o.dense),
    )
  }
  let best = views[0].name
  for (const v of views) if (better(task, scores[v.name], scores[best])) best = v.name
  return { view: best, scores }
}

/** Mean held-out metric of a linear classifier (the probe's first lr and weight decay) over k folds. */
async function crossValidateLinear(
  backbone: Backbone,
  task: BenchmarkTask,
  ctx: RunContext,
  cache: FeatureCache,
  indices: Int32Array,
  k: number,
  options?: LinearProbeOptions,
): Promise<number> {
  const o = linearProbeDefaults(options)
  const features = await cache.get(backbone, task, 'train', 'pooled', indices)
  const y = labelsOf(task, features.targets)
  const dim = features.shapes[0][0]
  const fold = stratifiedFolds(y, k, ctx.seed)
  let sum = 0
  let used = 0
  for (let f = 0; f < k; f++) {
    const fitRows = Int32Array.from(y.keys()).filter((r) => fold[r] !== f)
    const testRows = Int32Array.from(y.keys()).filter((r) => fold[r] === f)
    if (testRows.length === 0 || fitRows.length === 0) continue
    const c = await fitLinearClassifier(features.levels[0], y, dim, task.numClasses, fitRows, {
      lr: o.lrs[0],
      weightDecay: o.weightDecays[0],
      iterations: o.iterations,
      batchSize: o.batchSize,
      seed: ctx.seed + f,
      standardize: o.standardize,
    })
    const heldX = selectRows(features, testRows).levels[0]
    sum += classificationMetric(
      task.metric,
      predictLinear(c, heldX),
      Int32Array.from(testRows, (r) => y[r]),
      task.numClasses,
    )
    used++
  }
  if (used === 0)
    throw new Error(`selectView: task '${task.name}' has too few training images (${indices.length}) for ${k}-fold CV`)
  return sum / used
}

/** A dense head trained on (1 - heldOut) of the subset and scored on the rest. */
async function holdOutDense(
  backbone: Backbone,
  task: BenchmarkTask,
  ctx: RunContext,
  cache: FeatureCache,
  indices: Int32Array,
  heldOut: number,
  options?: DenseProbeOptions,
): Promise<number> {
  const order = new Rng(mixSeed(ctx.seed, 0x0d0a)).permutation(indices.length)
  const nHeld = Math.max(1, Math.floor(indices.length * heldOut))
  if (indices.length - nHeld < 1)
    throw new Error(`selectView: task '${task.name}' has too few training images (${indices.length}) to hold any out`)
  const features = await cache.get(backbone, task, 'train', 'maps', indices)
  const held = selectRows(features, order.subarray(0, nHeld))
  const fitSet = selectRows(features, order.subarray(nHeld))
  const { head } = await fitDenseHead(backbone, task, fitSet, ctx.seed, options)
  return scoreFeatureSet(head, held, SCORE_BATCH).value
}

/** Down-A end to end: choose the view on the train subset, train the task's protocol on it, score once. */
export async function downA(
  backbone: Backbone,
  task: BenchmarkTask,
  ctx: RunContext,
  o: DownAOptions = {},
): Promise<ResultRow> {
  const started = performance.now()
  const shared = { ...ctx, cache: ctx.cache ?? new FeatureCache() }
  const selection = await selectView(backbone, task, shared, o)
  const views = featureViews(backbone, task.type)
  const chosen = views.find((v) => v.name === selection.view)!
  const scored =
    task.type === 'classification'
      ? await scoreLinearProbe(
          await trainLinearProbe(chosen.backbone, task, shared, o.linear),
          chosen.backbone,
          task,
          shared,
        )
      : await scoreDenseProbe(
          await trainDenseProbe(chosen.backbone, task, shared, o.dense),
          chosen.backbone,
          task,
          shared,
        )
  const extra: Record<string, number> = { ...scored.extra, view: views.findIndex((v) => v.name === selection.view) }
  for (const [name, score] of Object.entries(selection.scores)) extra[`cv:${name}`] = score
  return resultRow(task, ctx, 'down-a', scored.value, extra, (performance.now() - started) / 1000)
}

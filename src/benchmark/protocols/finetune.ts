// Full fine-tuning, GV-B's second protocol: backbone and task head trained end to end from the
// pretrained weights on the few-shot subset (the backbone at a tenth of the head's learning rate,
// BatchNorm in train mode), scored with the same heads and metrics as the frozen protocol. The
// backbone is trained in place and its weights (buffers included) are put back afterwards, so the
// caller's model is unchanged when the run ends, whether it succeeded or not. Before scoring,
// BatchNorm statistics are recomputed exactly on the training images (precise BN).
import { fit } from '../../train/fit'
import { noGrad } from '../../autograd/grad-mode'
import { Module, recomputeBatchNormStats } from '../../nn'
import { tensor } from '../../tensor/creation'
import { keep, scope } from '../../tensor/memory'
import type { Tensor } from '../../tensor/tensor'
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
import { readImages, type ImageTargets } from './features'
import { SCORE_BATCH } from './dense-probe'
import { createTaskHead, type TaskHead } from './task-heads'

export interface FinetuneOptions {
  /** Optimizer steps. Default 300. */
  steps?: number
  /** Default 32. */
  batchSize?: number
  /** AdamW peak learning rate of the head. Default 1e-3. */
  lr?: number
  /** The backbone's learning rate as a fraction of the head's. Default 0.1. */
  backboneLrScale?: number
  /** Default 0.05 (norms and biases take none). */
  weightDecay?: number
}

type FinetuneSettings = TrainOptions & { backboneLrScale: number }

/** Backbone and head as one module, so fit() trains (and sets the mode of) both. */
class FinetuneModel extends Module {
  constructor(
    readonly backbone: Backbone,
    readonly head: Module,
  ) {
    super()
  }
}

function inputsOf(backbone: Backbone, head: TaskHead, images: Tensor): Tensor[] {
  return head.input === 'pooled' ? [backbone.forwardPooled(images)] : backbone.forwardFeatures(images)
}

/** Precise BN over the fine-tuned network (src/nn/precise-bn.ts): backbone statistics, then eval. */
function recomputeBatchNorm(backbone: Backbone, head: TaskHead, batches: Iterable<Tensor>): void {
  recomputeBatchNormStats(backbone, (forward) => {
    for (const x of batches) {
      forward(() => void inputsOf(backbone, head, x))
      x.dispose()
    }
  })
}

/** A backbone fine-tuned with its head on a task's few-shot subset, before it has seen the test split. */
export interface Finetuned {
  task: string
  backbone: Backbone
  head: TaskHead
  losses: number[]
  trainImages: number
  options: FinetuneSettings
  seconds: number
  /** Puts the backbone's weights from before fine-tuning back. */
  restore(): void
}

/** Tensors of rows 0..n-1 in order, batchSize at a time (made lazily, so each can be freed). */
function* sequentialBatches(n: number, batchSize: number, batchOf: (rows: number[]) => Tensor): Generator<Tensor> {
  for (let at = 0; at < n; at += batchSize)
    yield batchOf(Array.from({ length: Math.min(batchSize, n - at) }, (_, k) => at + k))
}

function snapshot(backbone: Backbone): () => void {
  const saved = Object.fromEntries(Object.entries(backbone.stateDict()).map(([k, v]) => [k, keep(v.clone())]))
  const wasTraining = backbone.training
  return () => {
    backbone.loadStateDict(saved)
    for (const t of Object.values(saved)) t.dispose()
    backbone.train(wasTraining)
  }
}

/** Fine-tunes `backbone` (in place) with the task's head on the few-shot subset; never reads the test split. */
export async function trainFinetune(
  backbone: Backbone,
  task: BenchmarkTask,
  ctx: RunContext,
  options: FinetuneOptions = {},
): Promise<Finetuned> {
  const fn = 'trainFinetune'
  checkContext(fn, task, ctx)
  const o = checkTrainOptions(fn, {
    steps: 300,
    batchSize: 32,
    lr: 1e-3,
    weightDecay: 0.05,
    backboneLrScale: 0.1,
    ...options,
  })
  if (!(o.backboneLrScale >= 0 && o.backboneLrScale <= 1))
    throw new RangeError(`${fn}: backboneLrScale must be in [0, 1], got ${o.backboneLrScale}`)
  const started = performance.now()
  const indices = await task.shotIndices(ctx.percent, ctx.seed)
  const { images, targets } = await readImages(task, task.train(), 'train', indices)
  const S = task.imageSize
  const plane = 3 * S * S
  const restore = snapshot(backbone)
  try {
    return await withSeed(ctx.seed, `finetune:${task.name}`, async () => {
      const head = createTaskHead(task, backbone)
      const model = new FinetuneModel(backbone, head.module)
      const { optimizer, scheduler } = adamW(
        [
          { named: backbone.namedParameters(), lr: o.lr * o.backboneLrScale },
          { named: head.module.namedParameters(), lr: o.lr },
        ],
        o,
      )
      const perEpoch = epochBatches(indices.length, o.batchSize, ctx.seed, 0).length
      const batchOf = (rows: ArrayLike<number>): Tensor => {
        const x = new Float32Array(rows.length * plane)
        for (let k = 0; k < rows.length; k++) x.set(images.subarray(rows[k] * plane, (rows[k] + 1) * plane), k * plane)
        return tensor(x, { shape: [rows.length, 3, S, S] })
      }
      const { losses } = await fit({
        model,
        optimizer,
        scheduler,
        epochs: Math.ceil(o.steps / perEpoch),
        maxSteps: o.steps,
        batches: (epoch) => epochBatches(indices.length, o.batchSize, ctx.seed, epoch),
        step: (rows: Int32Array) =>
          head.loss(
            inputsOf(backbone, head, batchOf(rows)),
            Array.from(rows, (r) => targets[r]),
          ),
        log: { quiet: true },
      })
      recomputeBatchNorm(backbone, head, sequentialBatches(indices.length, o.batchSize, batchOf))
      return {
        task: task.name,
        backbone,
        head,
        losses,
        trainImages: indices.length,
        options: o,
        seconds: (performance.now() - started) / 1000,
        restore,
      }
    })
  } catch (e) {
    restore()
    throw e
  }
}

/** Scores a fine-tuned backbone and head on the task's test split (it does not restore the backbone). */
export async function scoreFinetune(ft: Finetuned, task: BenchmarkTask, ctx: RunContext): Promise<ResultRow> {
  if (ft.task !== task.name)
    throw new Error(`scoreFinetune: the model was fine-tuned on '${ft.task}', not '${task.name}'`)
  const started = performance.now()
  const test = task.test()
  const S = task.imageSize
  const scorer = ft.head.scorer()
  ft.backbone.eval()
  ft.head.module.eval()
  for (let at = 0; at < test.length; at += SCORE_BATCH) {
    const rows = Array.from({ length: Math.min(SCORE_BATCH, test.length - at) }, (_, k) => at + k)
    const { images, targets } = await readImages(task, test, 'test', rows)
    scope(() =>
      noGrad(() =>
        scorer.add(
          inputsOf(ft.backbone, ft.head, tensor(images, { shape: [rows.length, 3, S, S] })),
          targets as ImageTargets[],
        ),
      ),
    )
  }
  const { value, extra } = scorer.result()
  const o = ft.options
  const chosen = {
    lr: o.lr,
    backboneLr: o.lr * o.backboneLrScale,
    weightDecay: o.weightDecay,
    steps: o.steps,
    trainImages: ft.trainImages,
  }
  return resultRow(
    task,
    ctx,
    'finetune',
    value,
    { ...extra, ...chosen },
    ft.seconds + (performance.now() - started) / 1000,
  )
}

/** Fine-tuning end to end: train, score, and put the backbone's weights back. */
export async function finetune(
  backbone: Backbone,
  task: BenchmarkTask,
  ctx: RunContext,
  options: FinetuneOptions = {},
): Promise<ResultRow> {
  const ft = await trainFinetune(backbone, task, ctx, options)
  try {
    return await scoreFinetune(ft, task, ctx)
  } finally {
    ft.restore()
  }
}

// A small training loop: steps over epochs of batches, checkpoints atomically every N steps
// and at the end, and resumes exactly where it stopped. Exactness rests on three things being restored:
// model and optimizer state, the schedule's step, and the default generator's state; and on
// `batches(epoch)` giving the same batches for the same epoch (seeded shuffling), so that a
// resumed run skips the batches the stopped run had already taken.
import { autocast } from '../autograd/autocast-mode'
import * as fs from 'node:fs'
import { loadCheckpoint, saveCheckpoint, type TreeValue } from '../io/checkpoint'
import type { Module } from '../nn/module'
import type { Optimizer, OptimizerStateDict } from '../optim/optimizer'
import type { LRScheduler, LRSchedulerStateDict } from '../optim/schedules'
import { clipGradNorm_ } from '../optim/clip'
import { isMainProcess } from '../distributed/rank'
import { defaultGenerator } from '../tensor/random'
import { scope } from '../tensor/memory'
import { Tensor } from '../tensor/tensor'
import { Progress } from './progress'
import { moveAside, truncateLog } from './run-files'

export type Precision = 'float32' | 'bf16'

export type StepOutput = Tensor | { loss: Tensor; metrics?: Record<string, number> }

export interface FitOptions<B> {
  model: Module
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  optimizer: Optimizer<any>
  scheduler?: LRScheduler
  /** The batches of one epoch; must be the same for the same epoch number. */
  batches: (epoch: number) => Iterable<B> | AsyncIterable<B>
  /** Computes the loss of a batch (the model is in train mode); runs inside a scope. */
  step: (batch: B, model: Module) => StepOutput
  epochs?: number
  /** Stops after this many optimizer steps in all (counting those before a resume). */
  maxSteps?: number
  clipGradNorm?: number
  /**
   * 'bf16' runs each step's forward under autocast('bfloat16') (matmul, conv and attention in
   * bfloat16, the rest in float32); the parameters and optimizer state stay float32.
   */
  precision?: Precision
  /** Saved every `every` steps and after the last step. */
  checkpoint?: { path: string; every: number }
  /**
   * Continue from checkpoint.path when it exists; the JSONL log then drops the steps after
   * the checkpoint, which are redone. Without resume, an earlier run's checkpoint and log at
   * these paths are moved aside to `<name>.previous-<n><ext>` and the run starts clean.
   */
  resume?: boolean
  log?: { jsonlPath?: string; every?: number; stream?: NodeJS.WriteStream; quiet?: boolean }
  /** Called after each step with its loss and metrics (after logging). */
  onStep?: (info: { step: number; epoch: number; loss: number; lr: number; metrics: Record<string, number> }) => void
}

export interface FitResult {
  steps: number
  epochs: number
  losses: number[]
  resumedFrom: number | null
}

interface Position {
  epoch: number
  batchInEpoch: number
}

function save<B>(opts: FitOptions<B>, step: number, pos: Position): void {
  const { path } = opts.checkpoint!
  const extra: Record<string, TreeValue> = { epoch: pos.epoch, batchInEpoch: pos.batchInEpoch }
  if (opts.scheduler) extra.scheduler = opts.scheduler.stateDict() as unknown as TreeValue
  saveCheckpoint(path, {
    model: opts.model.stateDict(),
    optimizer: opts.optimizer.stateDict() as unknown as TreeValue,
    step,
    rng: defaultGenerator.getState(),
    extra,
  })
}

function restore<B>(opts: FitOptions<B>): { step: number; pos: Position } {
  try {
    return restoreFrom(opts)
  } catch (e) {
    throw new Error(`fit: cannot resume from '${opts.checkpoint!.path}': ${(e as Error).message}`)
  }
}

function restoreFrom<B>(opts: FitOptions<B>): { step: number; pos: Position } {
  const ckpt = loadCheckpoint(opts.checkpoint!.path)
  opts.model.loadStateDict(ckpt.model)
  opts.optimizer.loadStateDict(ckpt.optimizer as unknown as OptimizerStateDict)
  const extra = ckpt.extra as unknown as { epoch: number; batchInEpoch: number; scheduler?: LRSchedulerStateDict }
  if (opts.scheduler && extra.scheduler) opts.scheduler.loadStateDict(extra.scheduler)
  if (ckpt.rng) defaultGenerator.setState(ckpt.rng as number[])
  for (const t of Object.values(ckpt.model)) t.dispose()
  return { step: ckpt.step, pos: { epoch: extra.epoch, batchInEpoch: extra.batchInEpoch } }
}

export async function fit<B>(opts: FitOptions<B>): Promise<FitResult> {
  const epochs = opts.epochs ?? 1
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`fit: epochs must be a positive integer, got ${epochs}`)
  if (opts.checkpoint && (!Number.isInteger(opts.checkpoint.every) || opts.checkpoint.every < 1))
    throw new Error(`fit: checkpoint.every must be a positive integer, got ${opts.checkpoint.every}`)
  if (opts.resume && !opts.checkpoint) throw new Error('fit: resume needs checkpoint.path')
  const precision = opts.precision ?? 'float32'
  if (precision !== 'float32' && precision !== 'bf16')
    throw new Error(`fit: precision must be 'float32' or 'bf16', got ${JSON.stringify(opts.precision)}`)
  const forward = (batch: B): StepOutput =>
    precision === 'bf16' ? autocast('bfloat16', () => opts.step(batch, opts.model)) : opts.step(batch, opts.model)
  let step = 0
  let pos: Position = { epoch: 0, batchInEpoch: 0 }
  let resumedFrom: number | null = null
  // In a distributed run only rank 0 logs and checkpoints (the ranks hold the same model).
  const main = isMainProcess()
  const say = (line: string) => {
    if (main && !opts.log?.quiet) (opts.log?.stream ?? process.stderr).write(`${line}\n`)
  }
  const jsonl = opts.log?.quiet ? undefined : opts.log?.jsonlPath
  if (opts.resume && fs.existsSync(opts.checkpoint!.path)) {
    ;({ step, pos } = restore(opts))
    resumedFrom = step
    say(`resuming from step ${step} (${opts.checkpoint!.path})`)
  } else if (opts.resume) {
    say(`no checkpoint at ${opts.checkpoint!.path} yet: starting from step 0`)
  } else if (main) {
    const moved = moveAside([opts.checkpoint?.path, jsonl].filter((f): f is string => f !== undefined))
    if (moved.length)
      say(`moved the earlier run's files aside: ${moved.map(([from, to]) => `${from} -> ${to}`).join(', ')}`)
  }
  if (opts.resume && jsonl && main) truncateLog(jsonl, step)
  const progress =
    opts.log?.quiet || !main
      ? null
      : new Progress(
          { total: opts.maxSteps, every: opts.log?.every, jsonlPath: opts.log?.jsonlPath, stream: opts.log?.stream },
          step,
        )
  const losses: number[] = []
  let savedAt = step
  let last = pos
  opts.model.train()
  const done = () => opts.maxSteps !== undefined && step >= opts.maxSteps
  for (let epoch = pos.epoch; epoch < epochs && !done(); epoch++) {
    let index = 0
    const skip = epoch === pos.epoch ? pos.batchInEpoch : 0
    for await (const batch of opts.batches(epoch) as AsyncIterable<B>) {
      if (index++ < skip) continue
      const { loss, metrics } = scope(() => {
        const out = forward(batch)
        const l = out instanceof Tensor ? out : out.loss
        opts.optimizer.zeroGrad()
        l.backward()
        if (opts.clipGradNorm !== undefined) clipGradNorm_(opts.model.parameters(), opts.clipGradNorm)
        opts.optimizer.step()
        return { loss: l.item(), metrics: out instanceof Tensor ? {} : (out.metrics ?? {}) }
      })
      if (!Number.isFinite(loss)) throw new Error(`fit: the loss became ${loss} at step ${step + 1} (epoch ${epoch})`)
      step++
      const lr = opts.optimizer.paramGroups[0].lr as number
      opts.scheduler?.step()
      losses.push(loss)
      progress?.update(step, { epoch, loss, lr, ...metrics })
      opts.onStep?.({ step, epoch, loss, lr, metrics })
      last = { epoch, batchInEpoch: index }
      if (main && opts.checkpoint && step % opts.checkpoint.every === 0) {
        save(opts, step, last)
        savedAt = step
      }
      if (done()) break
    }
  }
  if (main && opts.checkpoint && step !== savedAt) save(opts, step, last)
  progress?.done()
  return { steps: step, epochs, losses, resumedFrom }
}

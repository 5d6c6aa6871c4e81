// `intern-vision train`: supervised training of a model zoo network on a GV-D dataset, with
// checkpoints, exact resume, a JSONL log and a final evaluation written to report.json.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import { DataLoader, fashionMnist, digits, worldDataset, type Dataset, type ImageSample } from '../data'
import { batchToTensors } from '../data/to-tensor'
import { dataParallel } from '../distributed/data-parallel'
import { MetaNet, resnet18 } from '../models'
import type { Module } from '../nn'
import { AdamW, cosineSchedule, LRScheduler, paramGroupsNoDecay, warmupCosineSchedule } from '../optim'
import { crossEntropy } from '../ops'
import { autocast } from '../autograd/autocast-mode'
import { noGrad } from '../autograd/grad-mode'
import { scope } from '../tensor/memory'
import { manualSeed } from '../tensor/random'
import type { Tensor } from '../tensor/tensor'
import { fit, type Precision } from '../train'
import { relaunched } from './nproc'
import { profileUsage, profiled, takeProfileFlag } from '../profiler/cli'

export interface TrainArgs {
  data: 'world' | 'fashion-mnist' | 'digits'
  model: string
  steps: number
  batchSize: number
  lr: number
  imageSize: number
  trainSize: number
  testSize: number
  workers: number
  seed: number
  out: string
  resume: boolean
  /** Steps between checkpoints (one is always written after the last step). */
  checkpointEvery: number
  /** Ranks on this machine (--nproc): the command reruns itself under mpirun with that many. */
  nproc?: number
  /** 'bf16': forward passes under autocast('bfloat16'), float32 weights. */
  precision: Precision
}

export const TRAIN_USAGE = `usage: intern-vision train [options]

Trains a zoo model on a GV-D dataset with AdamW and a warmup-cosine schedule, checkpointing
into the run folder, then evaluates it on the test split (report.json), in the training precision. Without --resume, a
run folder's earlier checkpoint and log are moved aside (<name>.previous-<n>) first.
  --data D             world, fashion-mnist or digits (default world)
  --model M            mn-t, mn-s, mn-b4 or resnet18 (default mn-t)
  --steps N            optimizer steps (default 600)
  --batch-size N       images per step, at most the training images (default 64)
  --lr X               peak learning rate (default 0.003)
  --image-size N       image side in pixels, world only (default 32)
  --train-size N       training images, world only (default 8000)
  --test-size N        test images, world only (default 1000)
  --workers N          data loader worker threads (default 1)
  --seed N             seed of the model, the data and the shuffling (default 0)
  --checkpoint-every N steps between checkpoints; one is always written at the end (default 100)
  --out DIR            the run folder (default runs/<model>-<data>)
  --resume             continue the run in --out from its checkpoint
  --precision P        float32 (default) or bf16: forward passes under autocast to bfloat16
                       (matmul, conv, attention), float32 weights and optimizer state
  --nproc N            train data-parallel as N processes on this machine (reruns the command
                       under mpirun; --batch-size stays the global batch, a multiple of N).
                       Under mpirun or srun, the command is one rank and needs no --nproc
${profileUsage(23)}`

/** Bad command-line input: one line on stderr, exit code 2. */
export class UsageError extends Error {}

/** Parses `train`'s options; --help gives null. */
export function parseTrainArgs(argv: string[]): TrainArgs | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string', default: 'world' },
      model: { type: 'string', default: 'mn-t' },
      steps: { type: 'string', default: '600' },
      'batch-size': { type: 'string', default: '64' },
      lr: { type: 'string', default: '0.003' },
      'image-size': { type: 'string', default: '32' },
      'train-size': { type: 'string', default: '8000' },
      'test-size': { type: 'string', default: '1000' },
      workers: { type: 'string', default: '1' },
      seed: { type: 'string', default: '0' },
      'checkpoint-every': { type: 'string', default: '100' },
      out: { type: 'string' },
      resume: { type: 'boolean', default: false },
      nproc: { type: 'string' },
      precision: { type: 'string', default: 'float32' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  })
  if (values.help) return null
  const int = (k: string, v: string | undefined, min: number): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${k} must be an integer >= ${min}, got '${v}'`)
    return n
  }
  const data = values.data!
  if (data !== 'world' && data !== 'fashion-mnist' && data !== 'digits')
    throw new UsageError(`--data must be world, fashion-mnist or digits, got '${data}'`)
  if (!MODELS.includes(values.model!))
    throw new UsageError(`--model must be one of ${MODELS.join(', ')}, got '${values.model}'`)
  if (values.precision !== 'float32' && values.precision !== 'bf16')
    throw new UsageError(`--precision must be float32 or bf16, got '${values.precision}'`)
  const lr = Number(values.lr)
  if (!(lr > 0) || !Number.isFinite(lr)) throw new UsageError(`--lr must be a positive number, got '${values.lr}'`)
  return {
    data,
    model: values.model!,
    steps: int('steps', values.steps, 1),
    batchSize: int('batch-size', values['batch-size'], 1),
    lr,
    imageSize: int('image-size', values['image-size'], 8),
    trainSize: int('train-size', values['train-size'], 1),
    testSize: int('test-size', values['test-size'], 1),
    workers: int('workers', values.workers, 0),
    seed: int('seed', values.seed, 0),
    checkpointEvery: int('checkpoint-every', values['checkpoint-every'], 1),
    // One folder per model and data, so that runs of different models never share a checkpoint.
    out: values.out ?? path.join('runs', `${values.model}-${data}`),
    resume: values.resume!,
    nproc: values.nproc === undefined ? undefined : int('nproc', values.nproc, 1),
    precision: values.precision,
  }
}

export async function trainCommand(argv: string[]): Promise<number> {
  let args: TrainArgs | null
  try {
    const flags = takeProfileFlag(argv)
    args = parseTrainArgs(flags.argv)
    if (args === null) {
      console.log(TRAIN_USAGE)
      return 0
    }
    const status = relaunched('intern-vision train', args.nproc)
    if (status !== null) return status
    const a = args
    await profiled(flags.profile, () => train(a))
    return 0
  } catch (e) {
    const err = e as Error & { code?: string }
    const usage = e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')
    console.error(`intern-vision train: ${err.message}`)
    return usage ? 2 : 1
  }
}

interface Task {
  train: Dataset<ImageSample>
  test: Dataset<ImageSample>
  labelSpace: string
  numClasses: number
  inChannels: number
}

function task(a: TrainArgs): Task {
  if (a.data === 'world') {
    // The embedded default: scenes of one to three objects, classified by the shape of the
    // most visible one.
    const common = {
      imageSize: a.imageSize,
      seed: a.seed,
      objects: [1, 1] as [number, number],
      targets: ['labels' as const],
    }
    const train = worldDataset({ ...common, size: a.trainSize, split: 'train' })
    const test = worldDataset({ ...common, size: a.testSize, split: 'test' })
    return { train, test, labelSpace: 'shape', numClasses: train.info.labelSpaces.shape.size, inChannels: 3 }
  }
  if (a.data === 'fashion-mnist')
    return {
      train: fashionMnist({ split: 'train' }),
      test: fashionMnist({ split: 'test' }),
      labelSpace: 'class',
      numClasses: 10,
      inChannels: 1,
    }
  return {
    train: digits({ split: 'train' }),
    test: digits({ split: 'test' }),
    labelSpace: 'class',
    numClasses: 10,
    inChannels: 1,
  }
}

const MODELS = ['mn-t', 'mn-s', 'mn-b4', 'resnet18']

function buildModel(name: string, numClasses: number, inChannels: number): Module {
  if (name === 'resnet18') return resnet18({ numClasses, inChannels, cifar: true })
  return new MetaNet(name, { numClasses, inChannels })
}

/** Warmup over a tenth of the run (at most 100 steps) where there is room for it. */
function schedule(steps: number) {
  const warmupSteps = Math.min(100, Math.floor(steps / 10))
  return warmupSteps >= 1
    ? warmupCosineSchedule({ warmupSteps, totalSteps: steps })
    : cosineSchedule({ totalSteps: steps })
}

function evaluate(model: Module, loader: DataLoader, labelSpace: string, precision: Precision): Promise<number> {
  model.eval()
  let correct = 0
  let total = 0
  return (async () => {
    for await (const batch of loader) {
      correct += scope(() =>
        noGrad(() => {
          const b = batchToTensors(batch)
          const forward = () => model.forward(b.images) as Tensor
          const logits = precision === 'bf16' ? autocast('bfloat16', forward) : forward()
          return logits.argmax(1).eq(b.labels![labelSpace]).sum().item()
        }),
      )
      total += batch.size
    }
    model.train()
    return correct / total
  })()
}

export async function train(a: TrainArgs): Promise<{ accuracy: number; steps: number }> {
  manualSeed(a.seed)
  const t = task(a)
  const perEpoch = Math.floor(t.train.length / a.batchSize)
  if (perEpoch === 0)
    throw new UsageError(
      `--batch-size ${a.batchSize} is larger than the ${t.train.length} training images of ${a.data}`,
    )
  fs.mkdirSync(a.out, { recursive: true })
  const model = buildModel(a.model, t.numClasses, t.inChannels)
  const [decay, noDecay] = paramGroupsNoDecay(model.namedParameters(), 0.05)
  const optimizer = new AdamW([decay, noDecay], { lr: a.lr })
  const scheduler = new LRScheduler(optimizer, schedule(a.steps))
  // Under a launcher: DDP on the model, each rank a share of every global batch, rank 0 writes.
  const dp = await dataParallel('intern-vision train', model)
  const trainLoader = dp.loader(t.train, {
    batchSize: a.batchSize,
    shuffle: true,
    seed: a.seed,
    dropLast: true,
    workers: a.workers,
  })
  const testLoader = new DataLoader(t.test, { batchSize: 256, workers: a.workers })
  const started = Date.now()
  if (dp.main)
    console.error(
      `training ${a.model} (${model.numParameters()} parameters) on ${a.data} for ${a.steps} steps; logs in ${a.out}`,
    )
  try {
    const result = await fit({
      model,
      optimizer,
      scheduler,
      epochs: Math.ceil(a.steps / perEpoch),
      maxSteps: a.steps,
      precision: a.precision,
      batches: (epoch) => {
        trainLoader.epoch = epoch
        return trainLoader
      },
      step: (batch, m) => {
        const b = batchToTensors(batch)
        const logits = m.forward(b.images) as Tensor
        return crossEntropy(logits, b.labels![t.labelSpace], { labelSmoothing: 0.1 })
      },
      checkpoint: { path: path.join(a.out, 'checkpoint.safetensors'), every: a.checkpointEvery },
      resume: a.resume,
      log: { jsonlPath: path.join(a.out, 'log.jsonl'), every: 25 },
    })
    // Every rank evaluates (the ranks hold the same weights); rank 0 writes the report.
    const accuracy = await evaluate(model, testLoader, t.labelSpace, a.precision)
    const report = {
      data: a.data,
      model: a.model,
      parameters: model.numParameters(),
      precision: a.precision,
      steps: result.steps,
      resumedFrom: result.resumedFrom,
      testImages: t.test.length,
      testAccuracy: accuracy,
      finalLoss: result.losses[result.losses.length - 1] ?? null,
      seconds: (Date.now() - started) / 1000,
    }
    if (dp.main) {
      fs.writeFileSync(path.join(a.out, 'report.json'), JSON.stringify(report, null, 2) + '\n')
      console.log(
        `test accuracy ${(accuracy * 100).toFixed(2)}% on ${t.test.length} images after ${result.steps} steps (${report.seconds.toFixed(0)} s); report in ${path.join(a.out, 'report.json')}`,
      )
    }
    dp.close()
    return { accuracy, steps: result.steps }
  } finally {
    await trainLoader.close()
    await testLoader.close()
  }
}

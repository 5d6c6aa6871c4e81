// `intern-vision train`: supervised training of a model zoo network on a GV-D dataset, with
// checkpoints, exact resume, a JSONL log and a final evaluation written to report.json.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { DataLoader, fashionMnist, digits, worldDataset, type Dataset, type ImageSample } from '../data'
import { batchToTensors } from '../data/to-tensor'
import { MetaNet, resnet18 } from '../models'
import type { Module } from '../nn'
import { AdamW, LRScheduler, paramGroupsNoDecay, warmupCosineSchedule } from '../optim'
import { crossEntropy } from '../ops'
import { noGrad } from '../autograd/grad-mode'
import { scope } from '../tensor/memory'
import { manualSeed } from '../tensor/random'
import type { Tensor } from '../tensor/tensor'
import { fit } from '../train'

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
    const common = { imageSize: a.imageSize, seed: a.seed, objects: [1, 1] as [number, number], targets: ['labels' as const] }
    const train = worldDataset({ ...common, size: a.trainSize, split: 'train' })
    const test = worldDataset({ ...common, size: a.testSize, split: 'test' })
    return { train, test, labelSpace: 'shape', numClasses: train.info.labelSpaces.shape.size, inChannels: 3 }
  }
  if (a.data === 'fashion-mnist') return { train: fashionMnist({ split: 'train' }), test: fashionMnist({ split: 'test' }), labelSpace: 'class', numClasses: 10, inChannels: 1 }
  return { train: digits({ split: 'train' }), test: digits({ split: 'test' }), labelSpace: 'class', numClasses: 10, inChannels: 1 }
}

function buildModel(name: string, numClasses: number, inChannels: number): Module {
  if (name.startsWith('mn-')) return new MetaNet(name, { numClasses, inChannels })
  if (name === 'resnet18') return resnet18({ numClasses, inChannels, cifar: true })
  throw new Error(`train: unknown model '${name}' (mn-t, mn-s, mn-b4, resnet18)`)
}

function evaluate(model: Module, loader: DataLoader, labelSpace: string): Promise<number> {
  model.eval()
  let correct = 0
  let total = 0
  return (async () => {
    for await (const batch of loader) {
      correct += scope(() =>
        noGrad(() => {
          const b = batchToTensors(batch)
          const logits = model.forward(b.images) as Tensor
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
  fs.mkdirSync(a.out, { recursive: true })
  const t = task(a)
  const model = buildModel(a.model, t.numClasses, t.inChannels)
  const [decay, noDecay] = paramGroupsNoDecay(model.namedParameters(), 0.05)
  const optimizer = new AdamW([decay, noDecay], { lr: a.lr })
  const scheduler = new LRScheduler(optimizer, warmupCosineSchedule({ warmupSteps: Math.min(100, Math.floor(a.steps / 10)), totalSteps: a.steps }))
  const trainLoader = new DataLoader(t.train, { batchSize: a.batchSize, shuffle: true, seed: a.seed, dropLast: true, workers: a.workers })
  const testLoader = new DataLoader(t.test, { batchSize: 256, workers: a.workers })
  const started = Date.now()
  console.error(`training ${a.model} (${model.numParameters()} parameters) on ${a.data} for ${a.steps} steps; logs in ${a.out}`)
  try {
    const result = await fit({
      model,
      optimizer,
      scheduler,
      epochs: Math.ceil(a.steps / Math.floor(t.train.length / a.batchSize)),
      maxSteps: a.steps,
      batches: (epoch) => {
        trainLoader.epoch = epoch
        return trainLoader
      },
      step: (batch, m) => {
        const b = batchToTensors(batch)
        const logits = m.forward(b.images) as Tensor
        return crossEntropy(logits, b.labels![t.labelSpace], { labelSmoothing: 0.1 })
      },
      checkpoint: { path: path.join(a.out, 'checkpoint.safetensors'), every: 100 },
      resume: a.resume,
      log: { jsonlPath: path.join(a.out, 'log.jsonl'), every: 25 },
    })
    const accuracy = await evaluate(model, testLoader, t.labelSpace)
    const report = {
      data: a.data,
      model: a.model,
      parameters: model.numParameters(),
      steps: result.steps,
      resumedFrom: result.resumedFrom,
      testImages: t.test.length,
      testAccuracy: accuracy,
      finalLoss: result.losses[result.losses.length - 1] ?? null,
      seconds: (Date.now() - started) / 1000,
    }
    fs.writeFileSync(path.join(a.out, 'report.json'), JSON.stringify(report, null, 2) + '\n')
    console.log(`test accuracy ${(accuracy * 100).toFixed(2)}% on ${t.test.length} images after ${result.steps} steps (${report.seconds.toFixed(0)} s); report in ${path.join(a.out, 'report.json')}`)
    return { accuracy, steps: result.steps }
  } finally {
    await trainLoader.close()
    await testLoader.close()
  }
}

// The upstream stages' training throughput at the cpu-quick preset (mn-t at 32 px, its batch
// sizes), 2 threads: each stage's step split into forward, backward and optimizer, beside the
// time its own data path takes to make one batch (Up-A: its DataLoader's collated two-view
// batch; the experts and the generalist: BalancedBatches' samples and their tensors); then the
// Up-A step beside the same computation in PyTorch 1.13 (bench/stages_torch.py says what differs).
//
// A step is what the stage trainer's fit() runs: the loss (amateurStep for Up-A, the heads' loss
// over source batches for the experts and the generalist), zeroGrad and backward, gradient
// clipping (experts and generalist, at 5) and the AdamW step. It runs on one batch made before
// timing: random images of the stage's shape, with the captions, labels, boxes and masks of a
// real batch of the stage's sources, since detection and segmentation targets must be well
// formed. Up-A's forward includes what amateurStep does besides the model: converting the batch
// to tensors, tokenizing and masking the captions, enqueueing the text features.
import type { Batch, Stacked } from '../src/data/collate'
import { DataLoader } from '../src/data/loader'
import { maskTokens } from '../src/models/text/masking'
import { createModel } from '../src/models/zoo'
import * as iv from '../src'
import type { Module } from '../src/nn'
import { amateurStep, AMATEUR_WEIGHT_DECAY } from '../src/intern/amateur'
import { amateurViews, captionTokenizer, imageTextDataset } from '../src/intern/amateur-data'
import { AmateurModel, DEFAULT_MODEL_SHAPE } from '../src/intern/amateur-model'
import { ExpertModel } from '../src/intern/expert'
import { Generalist, GeneralistModel } from '../src/intern/generalist'
import { resolveAmateurWeights } from '../src/intern/losses'
import {
  BalancedBatches,
  createTaskHead,
  resolveSources,
  shares,
  toSourceBatches,
  type RawSourceBatch,
  type SourceBatch,
} from '../src/intern/objectives'
import { getPreset, type StagePreset } from '../src/intern/presets'
import type { ExpertType } from '../src/intern/stage-io'
import { hasTorch, median, printTable, torchRun } from './util'

iv.setNumThreads(2)
const preset = getPreset('cpu-quick')
const RUNS = 7
// Unmeasured steps first: at least WARMUP, and on for WARM_SECONDS (both sides), since our
// first dozen steps also run the JavaScript before V8 has optimised it.
const WARMUP = 2
const WARM_SECONDS = 2
const SEED = 0

/** Median seconds of each phase of a training step, and of the whole step. */
interface StepTimes {
  forward: number
  backward: number
  optimizer: number
  step: number
}

interface StageBench {
  name: string
  batch: number
  times: StepTimes
  /** Median seconds for the stage's data path to make one batch. */
  data: number
}

const now = () => Number(process.hrtime.bigint()) / 1e9

/**
 * Times RUNS training steps after the warm-up ones, in fit()'s order, each in a scope (AdamW, weight decay 0.05 as
 * every stage).
 */
function timeSteps(model: Module, lr: number, clip: number | null, loss: () => iv.Tensor): StepTimes {
  const optimizer = new iv.AdamW(iv.paramGroupsNoDecay(model.namedParameters(), 0.05), { lr })
  model.train()
  const laps: number[][] = []
  const warmUntil = now() + WARM_SECONDS
  for (let r = 0, warm = true; laps.length < RUNS; r++) {
    warm &&= r < WARMUP || now() < warmUntil
    const t = [now()]
    iv.scope(() => {
      const l = loss()
      t.push(now())
      optimizer.zeroGrad()
      l.backward()
      t.push(now())
      if (clip !== null) iv.clipGradNorm_(model.parameters(), clip)
      optimizer.step()
      t.push(now())
    })
    t.push(now())
    if (!warm) laps.push([t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[0]])
  }
  const col = (i: number) => median(laps.map((l) => l[i]))
  return { forward: col(0), backward: col(1), optimizer: col(2), step: col(3) }
}

/** Median seconds of an async call over RUNS calls after one unmeasured one. */
async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  await fn()
  const times: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const t0 = now()
    await fn()
    times.push(now() - t0)
  }
  return median(times)
}

const randomImages = (s: Stacked<Float32Array>): Stacked<Float32Array> => ({
  data: Float32Array.from({ length: s.data.length }, Math.random),
  shape: s.shape,
})

/** Up-A at the preset's settings; also what the PyTorch side needs to run the same shapes. */
async function amateurBench(s: StagePreset): Promise<{ bench: StageBench; torchSpec: object }> {
  iv.manualSeed(SEED)
  const tokenizer = await captionTokenizer(s.sources)
  const model = new AmateurModel({
    backbone: s.backbone,
    imageSize: s.imageSize,
    ...DEFAULT_MODEL_SHAPE,
    text: { ...DEFAULT_MODEL_SHAPE.text },
    tokenizer: tokenizer.toJSON(),
    selfSupervised: 'simsiam',
  })
  // A full queue, as after the first queueSize / batchSize steps: the lookup's steady-state cost.
  iv.scope(() => model.queue.enqueue(iv.randn([model.config.queueSize, model.config.embedDim])))
  const weights = resolveAmateurWeights()
  const data = imageTextDataset(s.sources, { size: 4096, imageSize: s.imageSize, split: 'train' })
  const loader = new DataLoader(data, {
    batchSize: s.batchSize,
    shuffle: true,
    seed: SEED,
    dropLast: true,
    transform: amateurViews(s.imageSize),
  })
  const batches = loader[Symbol.asyncIterator]()
  const dataTime = await timeAsync(() => batches.next())
  const real = (await batches.next()).value as Batch
  const views = real.views!.map(randomImages)
  const batch: Batch = { ...real, images: views[0], views }

  const times = timeSteps(model, s.lr, null, () => {
    const out = amateurStep(model, batch, weights)
    return out instanceof iv.Tensor ? out : out.loss
  })

  const [captions, augmented] = real.captionViews!
  const spec = iv.scope(() => {
    const both = model.tokenize([...captions, ...augmented])
    const first = model.tokenize(captions)
    const masked = maskTokens(first.inputIds, model.tokenizer)
    return {
      viewsShape: [2 * s.batchSize, 3, s.imageSize, s.imageSize],
      vocabSize: tokenizer.vocabSize,
      text: model.config.text,
      embedDim: model.config.embedDim,
      projectorDim: model.config.projectorDim,
      predictorDim: model.config.predictorDim,
      queueSize: model.config.queueSize,
      weights,
      lr: s.lr,
      weightDecay: AMATEUR_WEIGHT_DECAY,
      ids: both.inputIds.toArray(),
      mask: both.attentionMask.toArray(),
      maskedIds: masked.inputIds.toArray(),
      maskedMask: first.attentionMask.toArray(),
      labels: masked.labels.toArray(),
    }
  })
  return { bench: { name: 'Up-A', batch: s.batchSize, times, data: dataTime }, torchSpec: spec }
}

/** One batch of `stream` with random images in place of the real ones, kept out of any scope. */
async function stepBatch(stream: BalancedBatches): Promise<SourceBatch[]> {
  return toSourceBatches(await stream.get(0)).map((p) => {
    const images = iv.rand(p.batch.images.shape)
    p.batch.images.dispose()
    return { ...p, batch: { ...p.batch, images } }
  })
}

/** Batch i's raw samples, then its tensors, as the stage trainers make them. */
async function makeBatch(streams: BalancedBatches[], i: number): Promise<void> {
  const raw: RawSourceBatch[][] = await Promise.all(streams.map((s) => s.get(i)))
  iv.scope(() => raw.forEach((r) => toSourceBatches(r)))
}

/** An expert's source-balanced stream of `batchSize` images a step, over a run of `steps` (as trainExpert makes it). */
function expertStream(
  type: ExpertType,
  s: StagePreset,
  batchSize: number,
  steps: number,
  seed: number,
): BalancedBatches {
  const sources = resolveSources('bench stages', type, s.sources)
  const share = shares(batchSize, sources.length)
  const datasets = sources.map((src, i) =>
    src.create({ size: steps * share[i], imageSize: s.imageSize, split: 'train' }),
  )
  return new BalancedBatches(sources, datasets, share, seed)
}

async function expertBench(type: ExpertType, s: StagePreset): Promise<StageBench> {
  iv.manualSeed(SEED)
  const backbone = createModel(s.backbone, { imageSize: s.imageSize })
  const model = new ExpertModel(
    backbone,
    createTaskHead(type, backbone, resolveSources('bench stages', type, s.sources)),
  )
  const stream = expertStream(type, s, s.batchSize, s.steps, SEED)
  let i = 1
  const data = await timeAsync(() => makeBatch([stream], i++))
  const parts = await stepBatch(stream)
  const times = timeSteps(model, s.lr, 5, () => model.head.loss(model.backbone, parts).loss)
  return { name: `Up-E ${type}`, batch: s.batchSize, times, data }
}

/** Up-G over fresh C, D and S experts: the step and data path of trainGeneralist. */
async function generalistBench(types: ExpertType[]): Promise<StageBench> {
  iv.manualSeed(SEED)
  const g = preset.generalist
  const backbone = new Generalist(
    types,
    types.map(() => createModel(g.backbone, { imageSize: g.imageSize })),
  )
  const heads = types.map((t) =>
    createTaskHead(t, backbone, resolveSources('bench stages', t, preset.experts[t].sources)),
  )
  const model = new GeneralistModel(backbone, heads)
  const perExpert = shares(g.batchSize, types.length)
  const streams = types.map((t, e) => expertStream(t, preset.experts[t], perExpert[e], g.steps, SEED + e))
  let i = 1
  const data = await timeAsync(() => makeBatch(streams, i++))
  const parts = await Promise.all(streams.map(stepBatch))
  const times = timeSteps(model, g.lr, 5, () =>
    heads.map((h, e) => h.loss(backbone, parts[e]).loss).reduce((sum, l) => sum.add(l)),
  )
  return { name: `Up-G ${types.join('-')}`, batch: g.batchSize, times, data }
}

/** Runs one stage's bench; a stage that fails is reported and the others still run. */
async function attempt<T>(name: string, fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn()
  } catch (e) {
    console.log(`\n(${name} failed: ${(e as Error).stack ?? e})`)
    return null
  }
}

async function main(): Promise<void> {
  const amateur = await attempt('Up-A', () => amateurBench(preset.amateur))
  const rows: (StageBench | null)[] = [amateur?.bench ?? null]
  for (const type of ['C', 'D', 'S'] as ExpertType[])
    rows.push(await attempt(`Up-E ${type}`, () => expertBench(type, preset.experts[type])))
  rows.push(await attempt('Up-G C-D-S', () => generalistBench(['C', 'D', 'S'])))

  const ms = (x: number) => x * 1000
  printTable(
    `upstream stage training steps, cpu-quick preset (mn-t, 32 px), 2 threads, median of ${RUNS} steps; data timed apart`,
    [
      'stage',
      'batch',
      'ms forward',
      'ms backward',
      'ms optimizer',
      'ms step',
      'ms data',
      'images/s',
      'images/s with data',
    ],
    rows
      .filter((r): r is StageBench => r !== null)
      .map((r) => [
        r.name,
        r.batch,
        ms(r.times.forward),
        ms(r.times.backward),
        ms(r.times.optimizer),
        ms(r.times.step),
        ms(r.data),
        r.batch / r.times.step,
        r.batch / (r.times.step + r.data),
      ]),
  )

  if (!amateur || !hasTorch) return
  // libgomp's threads spin while they wait; on this shared, oversubscribed machine that made
  // PyTorch's step several times slower. Our engine's thread pool is not OpenMP, so this
  // setting touches only the PyTorch side (a caller's own setting wins).
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE'
  const [forward, backward, optimizer, step] = torchRun<number[]>(`
import sys
sys.dont_write_bytecode = True  # no __pycache__ left in bench/
sys.path.insert(0, ${JSON.stringify(__dirname)})
from stages_torch import upa_step
print(json.dumps(upa_step(json.loads(${JSON.stringify(JSON.stringify(amateur.torchSpec))}), ${RUNS}, ${WARMUP}, ${WARM_SECONDS})))`)!
  const ours = amateur.bench.times
  const B = amateur.bench.batch
  printTable(
    `Up-A step (batch ${B}, 2 views, mn-t 32 px, text encoder, 4 losses) vs PyTorch, 2 threads, median ms; speed = PyTorch time / ours`,
    ['phase', 'intern-vision', 'PyTorch', 'speed vs PyTorch'],
    [
      ['forward (4 losses)', ms(ours.forward), ms(forward), forward / ours.forward],
      ['backward', ms(ours.backward), ms(backward), backward / ours.backward],
      ['optimizer (AdamW)', ms(ours.optimizer), ms(optimizer), optimizer / ours.optimizer],
      ['whole step', ms(ours.step), ms(step), step / ours.step],
      ['images/s', B / ours.step, B / step, step / ours.step],
    ],
  )
}

void main()

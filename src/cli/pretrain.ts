// `intern-vision pretrain`: runs one upstream stage of a preset (src/intern/presets.ts) into its
// stage folder, or with --dry-run builds the stage's models and runs one step on random data of
// the right shapes, so a paper preset can be checked without its data or its hardware.
import type { Precision } from '../train/fit'
import { parseArgs } from 'node:util'
import { collate, type Batch } from '../data/collate'
import { isMainProcess } from '../distributed/rank'
import { upstreamSource } from '../data/gvd/upstream'
import { Rng } from '../data/rng'
import type { Sample } from '../data/types'
import { checkOut, ExpertModel, expertTypeOf, parentCard, trainExpert } from '../intern/expert'
import { amateurStep, trainAmateur } from '../intern/amateur'
import { captionTokenizer } from '../intern/amateur-data'
import { AmateurModel, DEFAULT_MODEL_SHAPE } from '../intern/amateur-model'
import { createGeneralistModel, Generalist, GeneralistModel, trainGeneralist } from '../intern/generalist'
import { resolveAmateurWeights } from '../intern/losses'
import {
  createTaskHead,
  resolveSources,
  toSourceBatches,
  type RawSourceBatch,
  type TaskHead,
} from '../intern/objectives'
import { getPreset, type Preset, type StagePreset } from '../intern/presets'
import { loadStageBackbone, type ExpertType, type StageCard } from '../intern/stage-io'
import { createModel, type Backbone } from '../models/zoo'
import type { Module } from '../nn'
import { SGD } from '../optim'
import { scope } from '../tensor/memory'
import { manualSeed } from '../tensor/random'
import { Tensor } from '../tensor/tensor'
import { relaunched } from './nproc'
import { profileUsage, profiled, takeProfileFlag } from '../profiler/cli'

export const PRETRAIN_USAGE = `usage: intern-vision pretrain --stage amateur|expert|generalist --preset NAME [options]

Runs one upstream stage of a preset and writes its stage folder (model.safetensors, card.json,
checkpoint.safetensors, log.jsonl). Presets: cpu-quick, cpu-full, paper-r50, paper-mn-b4,
paper-mn-b15.

  --stage S          amateur, expert or generalist
  --preset NAME      the stage settings (backbone, image size, steps, batch, lr, sources)
  --type T           expert: C, D or S; generalist: the preset's experts to join, main
                     first (C-D, C-D-S, ...; default C-D)
  --from DIR         expert: the amateur folder to start from (default runs/<preset>/amateur;
                     'scratch' for random init); generalist: an earlier generalist to extend
  --experts DIR,DIR  generalist: expert folders, main first (default runs/<preset>/expert-<T>
                     for each type of --type)
  --sources A,B      the stage's upstream sources instead of the preset's
  --steps N          instead of the preset's steps
  --seed N           default 0
  --out DIR          default runs/<preset>/<stage name>
  --resume           continue the checkpoint in --out
  --precision P      float32 (default) or bf16: train under autocast to bfloat16 (matmul, conv,
                     attention), float32 weights and optimizer state
  --nproc N          train data-parallel as N processes on this machine (reruns the command
                     under mpirun): the same global batch and sample order, so the stage folder
                     is that of one process up to round-off and BatchNorm's per-rank batch
                     statistics; each batch (per source, for experts and generalists) must
                     divide by N. Under mpirun or srun, the command is one rank: no --nproc
  --dry-run          build the models and run one step on random data: 2 images per
                     source, one backward per source, plain SGD (no optimizer state); the
                     amateur 2 views of 1 image; writes nothing
  --quiet            no progress lines
${profileUsage(21)}
  --help             this text`

type Stage = 'amateur' | 'expert' | 'generalist'

interface Args {
  stage: Stage
  preset: Preset
  type?: string
  from?: string
  experts?: string[]
  sources?: string[]
  steps?: number
  seed: number
  out?: string
  resume: boolean
  nproc?: number
  precision: Precision
  dryRun: boolean
  quiet: boolean
}

const EXPERT_TYPES: readonly string[] = ['C', 'D', 'S']

function parse(argv: string[]): Args | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      stage: { type: 'string' },
      preset: { type: 'string' },
      type: { type: 'string' },
      from: { type: 'string' },
      experts: { type: 'string' },
      sources: { type: 'string' },
      steps: { type: 'string' },
      seed: { type: 'string', default: '0' },
      out: { type: 'string' },
      resume: { type: 'boolean', default: false },
      nproc: { type: 'string' },
      precision: { type: 'string', default: 'float32' },
      'dry-run': { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) return 'help'
  const stage = values.stage
  if (stage !== 'amateur' && stage !== 'expert' && stage !== 'generalist')
    throw new Error(`pretrain: --stage must be amateur, expert or generalist, got '${stage ?? ''}'`)
  if (values.preset === undefined) throw new Error('pretrain: --preset is required')
  const int = (key: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isInteger(n) || n < min) throw new Error(`pretrain: --${key} must be an integer >= ${min}, got '${v}'`)
    return n
  }
  if (values.precision !== 'float32' && values.precision !== 'bf16')
    throw new Error(`pretrain: --precision must be float32 or bf16, got '${values.precision}'`)
  const list = (v: string | undefined) => (v === undefined ? undefined : v.split(',').filter((s) => s !== ''))
  return {
    stage,
    preset: getPreset(values.preset),
    type: values.type,
    from: values.from,
    experts: list(values.experts),
    sources: list(values.sources),
    steps: int('steps', values.steps, 1),
    seed: int('seed', values.seed, 0)!,
    out: values.out,
    resume: values.resume!,
    nproc: int('nproc', values.nproc, 1),
    precision: values.precision,
    dryRun: values['dry-run']!,
    quiet: values.quiet!,
  }
}

function expertType(type: string | undefined): ExpertType {
  if (!EXPERT_TYPES.includes(type ?? ''))
    throw new Error(`pretrain: --stage expert needs --type C, D or S, got '${type ?? ''}'`)
  return type as ExpertType
}

/** The generalist's expert types from --type (C-D, C-D-S, ...; default C-D). */
function generalistTypes(type: string | undefined): ExpertType[] {
  const types = (type ?? 'C-D').split('-')
  if (types.length < 2 || types.some((t) => !EXPERT_TYPES.includes(t)))
    throw new Error(
      `pretrain: --stage generalist takes --type as expert types joined by '-' (C-D, C-D-S), got '${type}'`,
    )
  return types as ExpertType[]
}

const runDir = (a: Args, name: string) => `runs/${a.preset.name}/${name}`

// ---------------------------------------------------------------- dry runs

/** Random samples with the targets the named source gives (an image-text source's: one fixed caption). */
function randomSamples(sourceName: string, n: number, imageSize: number, rng: Rng): Sample[] {
  const source = upstreamSource(sourceName)
  const plane = imageSize * imageSize
  return Array.from({ length: n }, (_, i): Sample => {
    const image = {
      data: Float32Array.from({ length: 3 * plane }, () => rng.next()),
      channels: 3,
      height: imageSize,
      width: imageSize,
    }
    const k = rng.int(0, Math.max(1, source.numClasses))
    if (source.task === 'classification') return { image, index: i, labels: { [source.labelSpace!]: k } }
    if (source.task === 'segmentation')
      return { image, index: i, segmentation: Uint8Array.from({ length: plane }, () => rng.int(0, source.numClasses)) }
    if (source.task === 'detection') {
      const [x, y] = [rng.int(0, imageSize / 2), rng.int(0, imageSize / 2)]
      const side = rng.int(Math.ceil(imageSize / 4), Math.ceil(imageSize / 2))
      const boxes = Float32Array.of(x, y, x + side, y + side)
      return {
        image,
        index: i,
        objects: { boxes, labels: Int32Array.of(k), visibility: Float32Array.of(1), ignore: Uint8Array.of(0) },
      }
    }
    return { image, index: i, caption: 'a small red circle left of a large blue square' }
  })
}

/** A loss per source of `head`, each on 2 random images of that source (batch norm needs 2). */
function sourceLosses(head: TaskHead, backbone: Backbone, imageSize: number, rng: Rng): (() => Tensor)[] {
  return head.sources.map((source, s) => {
    const raw: RawSourceBatch = { head: s, source, samples: randomSamples(source.name, 2, imageSize, rng) }
    return () => head.loss(backbone, toSourceBatches([raw])).loss
  })
}

/**
 * One step: each loss's gradient in turn (its own backward, so only one small batch's
 * activations are alive at a time), summed, then plain SGD (no optimizer state to allocate).
 */
function oneStep(model: Module, losses: (() => Tensor)[]): { loss: number; seconds: number } {
  const started = Date.now()
  const optimizer = new SGD(
    model.parameters().filter((p) => p.requiresGrad),
    { lr: 1e-4 },
  )
  model.train()
  let total = 0
  for (const loss of losses) {
    total += scope(() => {
      const l = loss()
      l.backward()
      return l.item()
    })
  }
  optimizer.step()
  if (!Number.isFinite(total)) throw new Error(`pretrain: the dry run's loss is ${total}`)
  return { loss: total, seconds: (Date.now() - started) / 1000 }
}

function freshGeneralist(preset: Preset, types: ExpertType[]): GeneralistModel {
  const { backbone, imageSize } = preset.generalist
  const generalist = new Generalist(
    types,
    types.map(() => createModel(backbone, { imageSize })),
  )
  const heads = types.map((t) =>
    createTaskHead(t, generalist, resolveSources('pretrain', t, preset.experts[t].sources)),
  )
  return new GeneralistModel(generalist, heads)
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

async function dryRun(a: Args): Promise<string> {
  manualSeed(a.seed)
  const rng = new Rng(a.seed)
  const p =
    a.stage === 'amateur'
      ? a.preset.amateur
      : a.stage === 'expert'
        ? a.preset.experts[expertType(a.type)]
        : a.preset.generalist
  const { backbone, imageSize } = p
  let model: Module
  let losses: (() => Tensor)[]
  let what: string
  if (a.stage === 'amateur') {
    const sources = a.sources ?? a.preset.amateur.sources
    const tokenizer = await captionTokenizer(sources)
    const amateur = new AmateurModel({
      backbone,
      imageSize,
      ...DEFAULT_MODEL_SHAPE,
      text: { ...DEFAULT_MODEL_SHAPE.text },
      tokenizer: tokenizer.toJSON(),
      selfSupervised: 'simsiam',
    })
    // One image in two views: the backbone sees 2 images, the projector's batch norm 2 rows.
    const [first, second] = [randomSamples(sources[0], 1, imageSize, rng), randomSamples(sources[0], 1, imageSize, rng)]
    const captions = first.map((s) => s.caption!)
    const batch: Batch = {
      ...collate(first),
      views: [collate(first).images, collate(second).images],
      captionViews: [captions, captions],
    }
    model = amateur
    losses = [
      () => {
        const out = amateurStep(amateur, batch, resolveAmateurWeights())
        return out instanceof Tensor ? out : out.loss
      },
    ]
    what = 'amateur, 2 views of 1 image'
  } else if (a.stage === 'expert') {
    const type = expertType(a.type)
    const sources = resolveSources('pretrain', type, a.sources ?? (p as StagePreset).sources)
    const net =
      a.from !== undefined && a.from !== 'scratch'
        ? loadStageBackbone(a.from, { backbone })
        : createModel(backbone, { imageSize })
    const expert = new ExpertModel(net, createTaskHead(type, net, sources))
    model = expert
    losses = sourceLosses(expert.head, net, imageSize, rng)
    what = `expert ${type}, 2 images for each of ${plural(sources.length, 'source')}`
  } else {
    // Given expert folders are loaded (and checked); otherwise the preset's experts start from random init.
    const g = a.experts ? createGeneralistModel(a.experts, a.from) : freshGeneralist(a.preset, generalistTypes(a.type))
    const heads = g.heads.children() as TaskHead[]
    model = g
    losses = heads.flatMap((h) => sourceLosses(h, g.backbone, imageSize, rng))
    what = `generalist ${g.backbone.types.join('-')}, 2 images for each of ${plural(losses.length, 'source')}`
  }
  const { loss, seconds } = oneStep(model, losses)
  const millions = (n: number) => `${(n / 1e6).toFixed(1)}M`
  return (
    `dry run ok: ${a.preset.name} ${what} at ${imageSize} px on ${backbone}: loss ${loss.toFixed(4)}, ` +
    `${millions(model.numParameters())} parameters (${millions(model.numParameters(true))} trainable), one step ${seconds.toFixed(1)} s`
  )
}

// ---------------------------------------------------------------- real runs

async function run(a: Args): Promise<StageCard> {
  const log = { quiet: a.quiet }
  if (a.stage === 'amateur') {
    const p = a.preset.amateur
    const out = a.out ?? runDir(a, 'amateur')
    // trainAmateur starts its folder afresh; refuse here instead of losing a finished stage.
    const existing = checkOut('pretrain', out, a.resume)
    if (existing) return existing
    return trainAmateur({
      backbone: p.backbone,
      imageSize: p.imageSize,
      steps: a.steps ?? p.steps,
      batchSize: p.batchSize,
      lr: p.lr,
      seed: a.seed,
      out,
      resume: a.resume,
      sources: a.sources ?? p.sources,
      precision: a.precision,
      log,
    })
  }
  if (a.stage === 'expert') {
    const type = expertType(a.type)
    const p = a.preset.experts[type]
    const from = a.from ?? runDir(a, 'amateur')
    return trainExpert({
      type,
      backbone: p.backbone,
      imageSize: p.imageSize,
      init: from === 'scratch' ? 'scratch' : { amateur: from },
      sources: a.sources ?? p.sources,
      steps: a.steps ?? p.steps,
      batchSize: p.batchSize,
      lr: p.lr,
      seed: a.seed,
      out: a.out ?? runDir(a, `expert-${type}`),
      resume: a.resume,
      precision: a.precision,
      log,
    })
  }
  if (a.sources) throw new Error("pretrain: a generalist trains on its experts' sources; --sources does not apply")
  const p = a.preset.generalist
  const types = a.experts
    ? a.experts.map((dir) => expertTypeOf('pretrain', dir, parentCard('pretrain', dir)))
    : generalistTypes(a.type)
  const experts = a.experts ?? types.map((t) => runDir(a, `expert-${t}`))
  return trainGeneralist({
    experts,
    from: a.from,
    steps: a.steps ?? p.steps,
    batchSize: p.batchSize,
    lr: p.lr,
    seed: a.seed,
    out: a.out ?? runDir(a, `generalist-${types.join('-')}`),
    resume: a.resume,
    precision: a.precision,
    log,
  })
}

/** Runs the command; returns the exit code (2 for any error, after one `intern-vision: ...` line). */
export async function pretrainCommand(argv: string[]): Promise<number> {
  try {
    const flags = takeProfileFlag(argv)
    const a = parse(flags.argv)
    if (a === 'help') {
      process.stdout.write(PRETRAIN_USAGE + '\n')
      return 0
    }
    if (a.dryRun) {
      if (a.nproc !== undefined) throw new Error('pretrain: --dry-run runs one step in one process; leave out --nproc')
      process.stdout.write((await dryRun(a)) + '\n')
      return 0
    }
    const status = relaunched('pretrain', a.nproc)
    if (status !== null) return status
    const card = await profiled(flags.profile, () => run(a))
    if (!isMainProcess()) return 0
    const losses = Object.entries(card.finalLosses)
      .filter(([k]) => !k.includes('/'))
      .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    process.stdout.write(
      `${card.name}: ${card.steps} steps in ${card.seconds.toFixed(0)} s${losses.length ? `, final ${losses.join(', ')}` : ''}\n`,
    )
    return 0
  } catch (e) {
    process.stderr.write(
      `intern-vision: ${(e as Error).message
        .split('\n')
        .map((l) => l.trim())
        .join('; ')}\n`,
    )
    return 2
  }
}

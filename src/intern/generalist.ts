// Up-G: the generalist. It keeps every expert's backbone: the first expert's is the main branch
// and trains; the others are auxiliary branches, frozen in eval mode under no-grad, whose stage
// outputs reach the main branch through transfer modules (transfer.ts). Main stage k (every
// feature level but the last) receives the sum over auxiliary experts and positions j <= k of
// T_jk(aux stage j), as in the authors' released code. Transfers start at zero, so a new
// generalist equals its main expert exactly, and adding an expert later (C-D -> C-D-S) starts
// from the old generalist with the new transfers at zero. It trains on the union of its
// experts' objectives, with the experts' heads.
import * as path from 'node:path'
import { noGrad } from '../autograd/grad-mode'
import { createModel, type Backbone } from '../models/zoo'
import { Module, ModuleList } from '../nn'
import { manualSeed } from '../tensor/random'
import type { Tensor } from '../tensor/tensor'
import {
  checkInteger,
  checkLr,
  checkOut,
  expertTypeOf,
  parentCard,
  runStage,
  type StageTrainingOptions,
} from './expert'
import {
  BalancedBatches,
  createTaskHead,
  resolveSources,
  shares,
  toSourceBatches,
  type RawSourceBatch,
  type TaskHead,
} from './objectives'
import { loadStageBackbone, readStageCard, readStageWeights, type ExpertType, type StageCard } from './stage-io'
import { isStagedBackbone, transferStages, TransferSet, type StagedBackbone } from './transfer'

export interface GeneralistOptions extends StageTrainingOptions {
  /** Expert stage folders; the first is the main branch. */
  experts: string[]
  /** An earlier generalist to extend: its experts must be the first ones of `experts`. */
  from?: string
  /** Default 'generalist-<types joined by ->' (e.g. 'generalist-C-D'). */
  name?: string
}

function staged(fn: string, b: Backbone): StagedBackbone {
  if (!isStagedBackbone(b)) throw new Error(`${fn}: a ${b.constructor.name} backbone cannot be run stage by stage`)
  return b
}

/** The main branch with transfers from frozen auxiliary branches; a Backbone like any other. */
export class Generalist extends Module implements Backbone {
  /** Expert type of each branch, main first. */
  readonly types: ExpertType[]
  main: StagedBackbone
  aux: ModuleList<StagedBackbone>
  /** One TransferSet per auxiliary branch. */
  transfers: ModuleList<TransferSet>

  /** Branch backbones in expert order (the first is the main one), all of one architecture. */
  constructor(types: ExpertType[], backbones: Backbone[]) {
    super()
    if (types.length !== backbones.length || backbones.length === 0)
      throw new Error(`Generalist: expected one backbone per expert type, got ${backbones.length} for ${types.length}`)
    const [main, ...aux] = backbones.map((b) => staged('Generalist', b))
    this.types = [...types]
    this.main = main
    this.aux = new ModuleList(aux)
    this.transfers = new ModuleList(aux.map((a) => new TransferSet(a, main)))
    for (const a of aux) a.requiresGrad_(false).eval()
  }

  get featureChannels(): number[] {
    return this.main.featureChannels
  }

  get featureStrides(): number[] {
    return this.main.featureStrides
  }

  get pooledDim(): number {
    return this.main.pooledDim
  }

  /** Each auxiliary branch's outputs at the transfer stages, frozen: eval mode whatever train() set, no gradient. */
  private auxFeatures(x: Tensor): Tensor[][] {
    return noGrad(() =>
      (this.aux.children() as StagedBackbone[]).map((a) => {
        if (a.training) a.eval()
        const stages = transferStages(a)
        const out: Tensor[] = []
        let y = a.forwardStem(x)
        for (let i = 0; i <= stages[stages.length - 1]; i++) {
          y = a.forwardStage(i, y)
          if (stages.includes(i)) out.push(y)
        }
        return out
      }),
    )
  }

  /** The main branch's feature maps and its last stage's output, transfers added. */
  private run(x: Tensor): { features: Tensor[]; last: Tensor } {
    const main = this.main
    const targets = transferStages(main)
    const sets = this.transfers.children() as TransferSet[]
    const aux = sets.length ? this.auxFeatures(x) : []
    const wanted = new Set(main.featureStages)
    const features: Tensor[] = []
    let y = main.forwardStem(x)
    for (let i = 0; i < main.stageCount; i++) {
      y = main.forwardStage(i, y)
      const k = targets.indexOf(i)
      if (k >= 0 && sets.length) {
        const size: [number, number] = [y.shape[2], y.shape[3]]
        let t = sets[0].into(k, aux[0], size)
        for (let a = 1; a < sets.length; a++) t = t.add(sets[a].into(k, aux[a], size))
        y = y.add(t)
      }
      if (wanted.has(i)) features.push(y)
    }
    return { features, last: y }
  }

  forwardFeatures(x: Tensor): Tensor[] {
    return this.run(x).features
  }

  forwardPooled(x: Tensor): Tensor {
    return this.main.forwardHead(this.run(x).last)
  }

  override forward(x: Tensor): Tensor {
    return this.forwardPooled(x)
  }

  /** Every branch's feature maps, main (with transfers) first, then each auxiliary expert's (frozen). */
  expertFeatures(x: Tensor): Tensor[][] {
    const aux = noGrad(() =>
      (this.aux.children() as StagedBackbone[]).map((a) => (a.training && a.eval(), a.forwardFeatures(x))),
    )
    return [this.forwardFeatures(x), ...aux]
  }
}

/** A generalist stage: the Generalist (stage keys `backbone.*`) and its experts' heads (`heads.<i>.*`). */
export class GeneralistModel extends Module {
  backbone: Generalist
  heads: ModuleList<TaskHead>

  constructor(backbone: Generalist, heads: TaskHead[]) {
    super()
    this.backbone = backbone
    this.heads = new ModuleList(heads)
  }
}

interface ExpertRef {
  type: ExpertType
  dir: string
  card: StageCard
}

const sameDir = (a: string, b: string) => path.resolve(a) === path.resolve(b)

/** Reads and checks the experts: finished expert stages, one per type, of one architecture and image size. */
function readExperts(fn: string, dirs: string[]): ExpertRef[] {
  if (!Array.isArray(dirs) || dirs.length < 2)
    throw new Error(`${fn}: a generalist joins at least two experts, got ${JSON.stringify(dirs)}`)
  const refs = dirs.map((dir) => {
    const card = parentCard(fn, dir)
    return { type: expertTypeOf(fn, dir, card), dir, card }
  })
  const [first] = refs
  for (const r of refs) {
    const twice = refs.find((q) => q !== r && q.type === r.type)
    if (twice) throw new Error(`${fn}: expert type ${r.type} is given twice ('${twice.dir}' and '${r.dir}')`)
    if (r.card.backbone !== first.card.backbone || r.card.imageSize !== first.card.imageSize)
      throw new Error(
        `${fn}: experts must share one architecture and image size: '${first.dir}' is ${first.card.backbone} at ${first.card.imageSize} px, '${r.dir}' is ${r.card.backbone} at ${r.card.imageSize} px`,
      )
  }
  return refs
}

/** Checks that the generalist in `dir` holds the first experts of `refs`, in order. */
function checkParentGeneralist(fn: string, dir: string, refs: ExpertRef[]): void {
  const card = parentCard(fn, dir)
  if (card.kind !== 'generalist')
    throw new Error(`${fn}: from '${dir}' is not a generalist stage (its card says kind '${card.kind}')`)
  const held = card.experts ?? []
  const prefix =
    held.length < refs.length && held.every((e, i) => e.type === refs[i].type && sameDir(e.dir, refs[i].dir))
  if (!prefix)
    throw new Error(
      `${fn}: from '${dir}' holds experts ${held.map((e) => `${e.type}:${e.dir}`).join(', ')}, which are not the first of ${refs.map((r) => `${r.type}:${r.dir}`).join(', ')}`,
    )
}

interface Plan {
  refs: ExpertRef[]
  from: string | null
}

/** Reads and checks everything a generalist is built from, before anything is built or written. */
function plan(fn: string, experts: string[], from: string | undefined): Plan {
  const refs = readExperts(fn, experts)
  if (from !== undefined) checkParentGeneralist(fn, from, refs)
  return { refs, from: from ?? null }
}

/**
 * The step-0 generalist: the experts' backbones and heads from their folders, transfers at
 * zero; with `from`, the parent generalist's main branch, transfers and heads over those.
 */
function build(fn: string, p: Plan): GeneralistModel {
  const generalist = new Generalist(
    p.refs.map((r) => r.type),
    p.refs.map((r) => loadStageBackbone(r.dir)),
  )
  const heads = p.refs.map((r) => {
    const head = createTaskHead(r.type, generalist, resolveSources(fn, r.type, r.card.sources))
    head.loadStateDict(readStageWeights(r.dir, 'head.'))
    return head
  })
  const model = new GeneralistModel(generalist, heads)
  if (p.from !== null) {
    const { unexpectedKeys } = model.loadStateDict(readStageWeights(p.from), { strict: false })
    if (unexpectedKeys.length)
      throw new Error(
        `${fn}: from '${p.from}' has weights this generalist lacks: ${unexpectedKeys.slice(0, 5).join(', ')}`,
      )
  }
  return model
}

/** The generalist that trainGeneralist would start from (experts' folders, main first; optionally extending `from`). */
export function createGeneralistModel(experts: string[], from?: string): GeneralistModel {
  return build('createGeneralistModel', plan('createGeneralistModel', experts, from))
}

/**
 * Trains an Up-G generalist and writes its stage folder. Each step takes batchSize images, an
 * equal share per expert (each share source-balanced across that expert's sources), and sums
 * the experts' losses. The experts' folders are only read.
 */
export async function trainGeneralist(o: GeneralistOptions): Promise<StageCard> {
  const fn = 'trainGeneralist'
  checkInteger(fn, 'steps', o.steps, 1)
  checkInteger(fn, 'batchSize', o.batchSize, 1)
  checkInteger(fn, 'seed', o.seed, 0)
  checkLr(fn, o.lr)
  if (o.checkpointEvery !== undefined) checkInteger(fn, 'checkpointEvery', o.checkpointEvery, 1)
  const p = plan(fn, o.experts, o.from)
  const { refs } = p
  const sources = refs.map((r) => resolveSources(fn, r.type, r.card.sources))
  const perExpert = shares(o.batchSize, refs.length)
  sources.forEach((s, e) => {
    if (perExpert[e] < s.length)
      throw new Error(
        `${fn}: batchSize ${o.batchSize} gives expert ${refs[e].type} ${perExpert[e]} images a step, fewer than its ${s.length} sources`,
      )
  })
  const { backbone, imageSize } = refs[0].card
  const types = refs.map((r) => r.type)
  const existing = checkOut(fn, o.out, o.resume ?? false)
  if (existing) return existing

  manualSeed(o.seed)
  const model = build(fn, p)
  const sourceShares = sources.map((s, e) => shares(perExpert[e], s.length))
  const streams = sources.map((s, e) => {
    const share = sourceShares[e]
    const datasets = s.map((src, i) => src.create({ size: o.steps * share[i], imageSize, split: 'train' }))
    return new BalancedBatches(s, datasets, share, o.seed + e)
  })
  const heads = model.heads.children() as TaskHead[]
  return runStage<RawSourceBatch[][]>({
    fn,
    out: o.out,
    resume: o.resume ?? false,
    quiet: o.log?.quiet ?? false,
    model,
    lr: o.lr,
    steps: o.steps,
    checkpointEvery: o.checkpointEvery,
    precision: o.precision,
    batch: (i, part) => Promise.all(streams.map((s) => s.get(i, part))),
    shares: sourceShares.flat(),
    step: (raw) => {
      const losses = raw.map((r, e) => heads[e].loss(model.backbone, toSourceBatches(r)))
      const terms: Record<string, number> = {}
      losses.forEach((l, e) => {
        terms[`loss/${types[e]}`] = l.loss.item()
        for (const [k, v] of Object.entries(l.terms)) terms[k.replace(/^loss\//, `loss/${types[e]}/`)] = v
      })
      return { loss: losses.slice(1).reduce((sum, l) => sum.add(l.loss), losses[0].loss), terms }
    },
    card: {
      name: o.name ?? `generalist-${types.join('-')}`,
      kind: 'generalist',
      backbone,
      imageSize,
      sources: sources.flat().map((s) => s.name),
      batchSize: o.batchSize,
      parents: [
        ...refs.map((r) => ({ role: `expert-${r.type}`, dir: r.dir })),
        ...(p.from !== null ? [{ role: 'from', dir: p.from }] : []),
      ],
      experts: refs.map((r) => ({ type: r.type, dir: r.dir })),
      config: {
        experts: o.experts,
        from: o.from ?? null,
        lr: o.lr,
        seed: o.seed,
        batchSize: o.batchSize,
        steps: o.steps,
        precision: o.precision ?? 'float32',
      },
    },
  })
}

/** The Generalist of a finished generalist stage, rebuilt from its card and its `backbone.` weights. */
export function loadGeneralist(dir: string): Generalist {
  const fn = 'loadGeneralist'
  const card = parentCard(fn, dir)
  if (card.kind !== 'generalist' || !card.experts?.length)
    throw new Error(`${fn}: '${dir}' is not a generalist stage (its card says kind '${card.kind}')`)
  const types = card.experts.map((e) => e.type)
  const generalist = new Generalist(
    types,
    types.map(() => createModel(card.backbone, { imageSize: card.imageSize })),
  )
  try {
    generalist.loadStateDict(readStageWeights(dir, 'backbone.'))
  } catch (e) {
    throw new Error(`${fn}: '${dir}' does not fit its card: ${(e as Error).message}`)
  }
  return generalist
}

/** The image backbone of any finished upstream stage: a generalist's Generalist, or another stage's zoo backbone. */
export function loadUpstreamBackbone(dir: string): Backbone {
  return readStageCard(dir).kind === 'generalist' ? loadGeneralist(dir) : loadStageBackbone(dir)
}

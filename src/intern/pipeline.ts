// The whole INTERN pipeline as one resumable run: Up-A, the C, D and S experts, the generalists
// C-D and C-D-S, the baselines at equal upstream compute, then GV-B on every model at every
// percent and seed, Down-A on the generalist, and the report. Each unit is skipped when its
// output is already there (a stage folder with a card, a row in results.json), and a stage
// that was stopped resumes from its last checkpoint, so a killed run started again continues
// where it stopped. The report is rewritten after every stage and every finished task.
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Backbone } from '../models/zoo'
import { createModel } from '../models/zoo'
import { manualSeed } from '../tensor/random'
import { writeReport } from '../benchmark/report'
import {
  mergeResults,
  readResults,
  type Protocol,
  type ResultRow,
  type RunResults,
  type StageSummary,
} from '../benchmark/results'
import { machineFacts, runBenchmark, RESULTS_FILE, type BenchmarkModel } from '../benchmark/run'
import type { ProtocolOptions } from '../benchmark/protocols/protocol'
import { DEFAULT_TASKS, getTask } from '../benchmark/tasks'
import { downA, type DownAOptions } from './adaptation'
import { trainAmateur } from './amateur'
import { trainExpert } from './expert'
import { loadUpstreamBackbone, trainGeneralist } from './generalist'
import { getPreset, type Preset } from './presets'
import { readStageLog } from './stage-log'
import { packageVersion } from '../runtime'
import { CARD_FILE, LOG_FILE, readStageCard, type StageCard } from './stage-io'

export interface PipelinePreset {
  name: string
  description: string
  /** The upstream stages' settings (src/intern/presets.ts). */
  upstream: Preset
  tasks: string[]
  /** Percentages every method is scored at (the paper's few-shot setting: 10). */
  percents: number[]
  /**
   * Methods also scored on all the training data (100%): the paper's Table 1 reports 100% for
   * its baselines, and claim (a) sets Up-G at 10% against single-source supervised at 100%.
   */
  fullDataMethods: string[]
  /** Score on the first N test images of every task (quick runs); default the whole test split. */
  testSize?: number
  seeds: number[]
  protocols: Exclude<Protocol, 'down-a'>[]
  /** Run Down-A on the C-D-S generalist (rows with protocol 'down-a'). */
  downA: boolean
  benchmark: ProtocolOptions
  adaptation: DownAOptions
}

/** A preset's upstream with every stage's steps scaled (at least 2 steps a stage). */
function scaled(p: Preset, factor: number, name: string): Preset {
  const s = <T extends { steps: number }>(x: T): T => ({ ...x, steps: Math.max(2, Math.round(x.steps * factor)) })
  return {
    ...p,
    name,
    amateur: s(p.amateur),
    experts: { C: s(p.experts.C), D: s(p.experts.D), S: s(p.experts.S) },
    generalist: s(p.generalist),
  }
}

export const PIPELINE_PRESETS: Readonly<Record<string, () => PipelinePreset>> = {
  // npm start: every stage and task once, one seed.
  'cpu-default': () => ({
    name: 'cpu-default',
    description: 'cpu-quick upstream, every GV-B task at 10% and 100%, one seed (npm start)',
    upstream: getPreset('cpu-quick'),
    tasks: DEFAULT_TASKS,
    percents: [10],
    fullDataMethods: ['sup-single', 'up-g-cds'],
    seeds: [0],
    protocols: ['linear'],
    downA: true,
    // Dense heads dominate GV-B's time: 60 steps keeps the whole run near 15 minutes.
    benchmark: { linear: { iterations: 300 }, dense: { steps: 60 } },
    adaptation: { linear: { iterations: 200 }, dense: { steps: 40 } },
  }),
  // The figures we quote: a ten times longer upstream and three seeds.
  'cpu-full': () => ({
    name: 'cpu-full',
    description: 'cpu-full upstream, every GV-B task at 10% and 100%, seeds 0-2',
    upstream: getPreset('cpu-full'),
    tasks: DEFAULT_TASKS,
    percents: [10],
    fullDataMethods: ['scratch', 'sup-single', 'up-g-cds'],
    seeds: [0, 1, 2],
    protocols: ['linear'],
    downA: true,
    benchmark: { linear: { iterations: 500 }, dense: { steps: 300 } },
    adaptation: { linear: { iterations: 500 }, dense: { steps: 200 } },
  }),
  // For tests: every unit of the pipeline in seconds (the numbers mean nothing).
  tiny: () => ({
    name: 'tiny',
    description: 'every unit of the pipeline with a few steps each (for tests)',
    upstream: scaled(getPreset('cpu-quick'), 0.02, 'cpu-quick x0.02'),
    tasks: ['world-sketch-shape', 'world-detection'],
    percents: [10],
    fullDataMethods: ['sup-single'],
    testSize: 60,
    seeds: [0],
    protocols: ['linear'],
    downA: true,
    benchmark: { linear: { iterations: 20, lrs: [0.01], weightDecays: [1e-3] }, dense: { steps: 3 } },
    adaptation: { linear: { iterations: 20, lrs: [0.01], weightDecays: [1e-3] }, dense: { steps: 3 } },
  }),
}

export function getPipelinePreset(name: string): PipelinePreset {
  const make = PIPELINE_PRESETS[name]
  if (!make) throw new Error(`unknown pipeline preset '${name}'; known: ${Object.keys(PIPELINE_PRESETS).join(', ')}`)
  return make()
}

/** Method ids of the report, with the stage folder each is read from ('scratch' has none). */
export const METHODS: { id: string; label: string; description: string; stage: string | null }[] = [
  { id: 'scratch', label: 'Scratch', description: 'random initialisation, no upstream training', stage: null },
  {
    id: 'sup-single',
    label: 'Single-source sup.',
    description: 'supervised on one classification source (the ImageNet-supervised analogue), equal upstream compute',
    stage: 'baseline-sup-single',
  },
  {
    id: 'image-text',
    label: 'Image-text only',
    description: 'Up-A with only its image-text loss (the CLIP analogue), equal upstream compute',
    stage: 'baseline-image-text',
  },
  { id: 'up-a', label: 'Up-A', description: 'amateur: multi-modal, multi-signal pretraining', stage: 'amateur' },
  { id: 'up-e-c', label: 'Up-E (C)', description: 'classification expert from Up-A', stage: 'expert-C' },
  { id: 'up-e-d', label: 'Up-E (D)', description: 'detection expert from Up-A', stage: 'expert-D' },
  { id: 'up-e-s', label: 'Up-E (S)', description: 'segmentation expert from Up-A', stage: 'expert-S' },
  { id: 'up-g-cd', label: 'Up-G (C-D)', description: 'generalist of the C and D experts', stage: 'generalist-C-D' },
  {
    id: 'up-g-cds',
    label: 'Up-G (C-D-S)',
    description: 'generalist of the C, D and S experts (C-D extended by S)',
    stage: 'generalist-C-D-S',
  },
]

export interface RunPipelineOptions {
  preset: PipelinePreset
  /** The run folder: stages/<name>/ for each stage, results.json and the report. */
  out: string
  /** Where progress lines go. Default process.stderr. */
  progress?: (line: string) => void
  /** Stage trainers print their own progress bars unless quiet. Default false. */
  quiet?: boolean
}

interface Unit {
  id: string
  /** Relative cost, for the ETA. */
  cost: number
  done(): boolean
  run(): Promise<void>
}

/**
 * Steps of the single-source and image-text baselines: the images the main branch of the
 * generalist saw upstream (Up-A, the C expert and the generalist: steps x batch added up),
 * divided by the baseline's batch.
 */
export function baselineSteps(p: Preset, batchSize: number): number {
  const images =
    p.amateur.steps * p.amateur.batchSize +
    p.experts.C.steps * p.experts.C.batchSize +
    p.generalist.steps * p.generalist.batchSize
  return Math.max(1, Math.round(images / batchSize))
}

function stageSummary(dir: string, card: StageCard): StageSummary {
  const log = readStageLog(path.join(dir, LOG_FILE))
  return {
    name: card.name,
    kind: card.kind,
    seconds: card.seconds,
    steps: card.steps,
    finalLosses: card.finalLosses,
    // Experts and generalists log their total as 'loss', the amateur as 'total'.
    curve: log.map((r) => ({ step: r.step, loss: r.loss ?? r.total })).filter((r) => Number.isFinite(r.loss)),
  }
}

/** Runs (or continues) the pipeline and returns the final results. */
export async function runPipeline(o: RunPipelineOptions): Promise<RunResults> {
  const p = o.preset
  const up = p.upstream
  const out = path.resolve(o.out)
  const stages = path.join(out, 'stages')
  const dir = (name: string) => path.join(stages, name)
  const hasCard = (name: string) => fs.existsSync(path.join(dir(name), CARD_FILE))
  const progress = o.progress ?? ((line: string) => process.stderr.write(line + '\n'))
  const quiet = o.quiet ?? false
  const tasks = p.tasks.map((t) => getTask(t, { testSize: p.testSize })) // unknown names fail before any work
  for (const id of p.fullDataMethods)
    if (!METHODS.some((m) => m.id === id))
      throw new Error(
        `runPipeline: unknown method '${id}' in fullDataMethods; known: ${METHODS.map((m) => m.id).join(', ')}`,
      )
  fs.mkdirSync(stages, { recursive: true })
  const seed = p.seeds[0] ?? 0
  const log = { quiet }
  const common = { seed, resume: true, log }

  const recordStage = (name: string) => {
    const file = path.join(out, RESULTS_FILE)
    const summary = stageSummary(dir(name), readStageCard(dir(name)))
    const base = fs.existsSync(file) ? readResults(file) : null
    const fresh: RunResults = {
      ...(base ?? emptyResults(p, out)),
      stages: [summary],
      rows: [],
      methods: [],
      tasks: [],
    }
    const merged = base ? mergeResults(base, { ...fresh, preset: p.name }) : { ...fresh, preset: p.name }
    writeReport(out, merged)
  }

  // A stage is done once its summary is in results.json: a kill between the card and the
  // summary leaves a trained stage that the next run only records.
  const recorded = (name: string) => {
    const file = path.join(out, RESULTS_FILE)
    if (!hasCard(name) || !fs.existsSync(file)) return false
    const card = readStageCard(dir(name))
    return readResults(file).stages.some((s) => s.name === card.name)
  }
  const stage = (name: string, cost: number, train: () => Promise<unknown>): Unit => ({
    id: `stage ${name}`,
    cost,
    done: () => recorded(name),
    run: async () => {
      if (hasCard(name)) progress(`  ${name} finished training before the last stop: recording its summary`)
      else await train()
      recordStage(name)
    },
  })
  const a = up.amateur
  const e = up.experts
  const g = up.generalist
  const single = e.C
  const supSteps = baselineSteps(up, single.batchSize)
  const clipSteps = baselineSteps(up, a.batchSize)
  const units: Unit[] = [
    stage('amateur', a.steps * a.batchSize * 3, () =>
      trainAmateur({
        ...common,
        backbone: a.backbone,
        imageSize: a.imageSize,
        steps: a.steps,
        batchSize: a.batchSize,
        lr: a.lr,
        sources: a.sources,
        out: dir('amateur'),
      }),
    ),
    ...(['C', 'D', 'S'] as const).map((t) =>
      stage(`expert-${t}`, e[t].steps * e[t].batchSize * (t === 'C' ? 1 : 2), () =>
        trainExpert({
          ...common,
          type: t,
          backbone: e[t].backbone,
          imageSize: e[t].imageSize,
          init: { amateur: dir('amateur') },
          sources: e[t].sources,
          steps: e[t].steps,
          batchSize: e[t].batchSize,
          lr: e[t].lr,
          out: dir(`expert-${t}`),
        }),
      ),
    ),
    stage('generalist-C-D', g.steps * g.batchSize * 3, () =>
      trainGeneralist({
        ...common,
        experts: [dir('expert-C'), dir('expert-D')],
        steps: g.steps,
        batchSize: g.batchSize,
        lr: g.lr,
        out: dir('generalist-C-D'),
      }),
    ),
    stage('generalist-C-D-S', g.steps * g.batchSize * 4, () =>
      trainGeneralist({
        ...common,
        experts: [dir('expert-C'), dir('expert-D'), dir('expert-S')],
        from: dir('generalist-C-D'),
        steps: g.steps,
        batchSize: g.batchSize,
        lr: g.lr,
        out: dir('generalist-C-D-S'),
      }),
    ),
    stage('baseline-sup-single', supSteps * single.batchSize, () =>
      trainExpert({
        ...common,
        type: 'C',
        backbone: single.backbone,
        imageSize: single.imageSize,
        init: 'scratch',
        sources: [single.sources[0]],
        steps: supSteps,
        batchSize: single.batchSize,
        lr: single.lr,
        name: 'baseline-sup-single',
        out: dir('baseline-sup-single'),
      }),
    ),
    stage('baseline-image-text', clipSteps * a.batchSize * 2, () =>
      trainAmateur({
        ...common,
        backbone: a.backbone,
        imageSize: a.imageSize,
        steps: clipSteps,
        batchSize: a.batchSize,
        lr: a.lr,
        sources: a.sources,
        weights: { clip: 1, nn: 0, simsiam: 0, mlm: 0 },
        name: 'baseline-image-text',
        out: dir('baseline-image-text'),
      }),
    ),
  ]

  const models: BenchmarkModel[] = METHODS.map((m) => ({
    id: m.id,
    label: m.label,
    description: m.description,
    load: (): Backbone => {
      if (m.stage === null) {
        manualSeed(seed)
        return createModel(a.backbone, { imageSize: a.imageSize })
      }
      return loadUpstreamBackbone(dir(m.stage))
    },
  }))
  const rowsPerModel = p.tasks.length * p.seeds.length * p.protocols.length
  const bench = {
    tasks,
    seeds: p.seeds,
    out,
    name: path.basename(out),
    preset: p.name,
    ...p.benchmark,
  }
  let benchDone = false
  units.push({
    id: 'GV-B',
    cost: (models.length * p.percents.length + p.fullDataMethods.length) * rowsPerModel * 2000,
    done: () => benchDone,
    run: async () => {
      const onRow = (r: ResultRow) =>
        progress(`  GV-B ${r.method} ${r.task} ${r.percent}% seed ${r.seed}: ${r.value.toFixed(4)}`)
      await runBenchmark({ ...bench, models, percents: p.percents, protocols: p.protocols, onRow })
      const full = models.filter((m) => p.fullDataMethods.includes(m.id))
      if (full.length) await runBenchmark({ ...bench, models: full, percents: [100], protocols: p.protocols, onRow })
      benchDone = true
    },
  })
  if (p.downA) {
    const generalist = models.find((m) => m.id === 'up-g-cds')!
    units.push({
      id: 'Down-A',
      cost: p.tasks.length * p.percents.length * p.seeds.length * 6000,
      done: () => false,
      run: async () => {
        await runBenchmark({
          ...bench,
          models: [generalist],
          percents: p.percents,
          protocols: ['down-a'],
          runners: { 'down-a': (backbone, task, ctx) => downA(backbone, task, ctx, p.adaptation) },
          onRow: (r) => progress(`  Down-A ${r.task} ${r.percent}% seed ${r.seed}: ${r.value.toFixed(4)}`),
        })
      },
    })
  }

  const started = Date.now()
  const total = units.reduce((s, u) => s + u.cost, 0)
  let doneCost = units.filter((u) => u.done()).reduce((s, u) => s + u.cost, 0)
  const startCost = doneCost
  for (const [i, u] of units.entries()) {
    if (u.done()) {
      progress(`[${i + 1}/${units.length}] ${u.id}: already done`)
      continue
    }
    const spent = (Date.now() - started) / 1000
    const eta =
      doneCost > startCost ? ` (ETA ${formatSeconds((spent / (doneCost - startCost)) * (total - doneCost))})` : ''
    progress(`[${i + 1}/${units.length}] ${u.id}${eta}`)
    await u.run()
    doneCost += u.cost
  }
  const final = readResults(path.join(out, RESULTS_FILE))
  final.finishedAt = new Date().toISOString()
  writeReport(out, final)
  progress(`done in ${formatSeconds((Date.now() - started) / 1000)}: ${path.join(out, 'report.html')}`)
  return final
}

function emptyResults(p: PipelinePreset, out: string): RunResults {
  return {
    name: path.basename(out),
    version: packageVersion(),
    preset: p.name,
    startedAt: new Date().toISOString(),
    finishedAt: null,
    machine: machineFacts(),
    seeds: p.seeds,
    methods: [],
    stages: [],
    tasks: [],
    rows: [],
  }
}

function formatSeconds(s: number): string {
  const whole = Math.round(s)
  return whole >= 60 ? `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s` : `${whole}s`
}

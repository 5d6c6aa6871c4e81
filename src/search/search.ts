// The search loop: propose a genome, cost it (parameters and FLOPs counted, latency measured
// through the cache), score it on the proxy, record it, repeat. The output folder holds the
// whole state: search.json (the settings) and trials.jsonl (every trial), rewritten atomically
// after each trial. Strategies are pure functions of the trials so far and of a random stream
// derived from (seed, trial index), so after a kill -9 a rerun with the same settings continues
// with exactly the trial the killed run was working on. pareto.json, pareto.svg and best.json
// are derived from the trials and rewritten with them.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { upstreamSource } from '../data/gvd/upstream'
import { Rng } from '../data/rng'
import { atomicWrite } from '../io/atomic'
import type { MetaNetConfig } from '../models/metanet/config'
import type { Device } from '../tensor/dtype'
import { paretoChart } from './chart'
import { analyticCost } from './cost'
import { LatencyTable } from './latency'
import { paretoFront } from './pareto'
import { ProxyTask, proxySettings, type ProxyOptions, type ProxySettings } from './proxy'
import {
  activeDecisions,
  cardinalities,
  checkSearchSpace,
  genomeKey,
  genomeToConfig,
  loadSearchSpace,
  type Genome,
  type SearchSpace,
} from './space'
import {
  STRATEGY_NAMES,
  createStrategy,
  type EvolutionOptions,
  type ReinforceOptions,
  type StrategyName,
} from './strategies'

export interface SearchOptions {
  /** The output folder (created; an existing search there is resumed). */
  out: string
  /** Total trials; a resumed search may be given more to extend it. */
  trials: number
  /** A named space ('tiny', 'metanet'), a space .json file or a space. Default 'tiny'. */
  space?: string | SearchSpace
  /** Default 'evolution'. */
  strategy?: StrategyName
  strategyOptions?: EvolutionOptions & ReinforceOptions
  /**
   * Most multiply-accumulates per image at the proxy's image size (FLOPs in this project's convention). Default: none.
   */
  budgetFlops?: number
  /** Seeds the proposals. Default 0. */
  seed?: number
  proxy?: ProxyOptions
  latency?: { batch?: number; repeats?: number; device?: Device; cacheFile?: string }
  /** Progress lines; default console.log. */
  log?: (line: string) => void
}

/** What a search is defined by: a rerun must match it (apart from `trials`) to resume. */
export interface SearchSettings {
  version: 1
  space: SearchSpace
  strategy: StrategyName
  strategyOptions: EvolutionOptions & ReinforceOptions
  budgetFlops: number | null
  seed: number
  proxy: ProxySettings
  latency: { batch: number; repeats: number; device: Device }
  trials: number
}

export interface Trial {
  index: number
  genome: Genome
  /** The canonical genome as text: equal keys are equal networks. */
  key: string
  config: MetaNetConfig
  params: number
  /** Multiply-accumulates per image at the proxy's image size. */
  flops: number
  latencyMs: number
  score: number
  trainLoss: number | null
  diverged: boolean
  /** Wall time of the trial (latency timing and proxy training). */
  seconds: number
}

export interface SearchResult {
  settings: SearchSettings
  trials: Trial[]
  best: Trial | null
  /** Trials run by this call (the others were read back). */
  ran: number
}

export const FILES = {
  settings: 'search.json',
  trials: 'trials.jsonl',
  pareto: 'pareto.json',
  chart: 'pareto.svg',
  best: 'best.json',
  latency: 'latency-cache.json',
} as const

const writeText = (file: string, text: string): void => atomicWrite(file, (write) => write(Buffer.from(text)))

function resolveSettings(o: SearchOptions): SearchSettings {
  const fn = 'search'
  if (!Number.isInteger(o.trials) || o.trials < 1)
    throw new RangeError(`${fn}: trials must be a positive integer, got ${o.trials}`)
  const strategy = o.strategy ?? 'evolution'
  if (!STRATEGY_NAMES.includes(strategy))
    throw new RangeError(`${fn}: strategy must be one of ${STRATEGY_NAMES.join(', ')}, got '${strategy}'`)
  createStrategy(strategy, o.strategyOptions) // checks the options
  const budget = o.budgetFlops ?? null
  if (budget !== null && !(Number.isFinite(budget) && budget > 0))
    throw new RangeError(`${fn}: budgetFlops must be a positive number, got ${budget}`)
  const seed = o.seed ?? 0
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new RangeError(`${fn}: seed must be a non-negative integer, got ${seed}`)
  const space = typeof o.space === 'object' ? checkSearchSpace(o.space) : loadSearchSpace(o.space ?? 'tiny')
  const latency = { batch: o.latency?.batch ?? 1, repeats: o.latency?.repeats ?? 5, device: o.latency?.device ?? 'cpu' }
  return {
    version: 1,
    space,
    strategy,
    strategyOptions: o.strategyOptions ?? {},
    budgetFlops: budget,
    seed,
    proxy: proxySettings(o.proxy),
    latency,
    trials: o.trials,
  }
}

/** The settings of an earlier search in `out`, checked against these; null when there is none. */
function previousSettings(out: string, now: SearchSettings): SearchSettings | null {
  const file = path.join(out, FILES.settings)
  if (!fs.existsSync(file)) return null
  let before: SearchSettings
  try {
    before = JSON.parse(fs.readFileSync(file, 'utf8')) as SearchSettings
  } catch (e) {
    throw new Error(`search: ${file} is not valid JSON (${(e as Error).message})`)
  }
  for (const k of Object.keys(now) as (keyof SearchSettings)[]) {
    if (k === 'trials') continue
    if (JSON.stringify(before[k]) !== JSON.stringify(now[k]))
      throw new Error(
        `search: ${out} holds a search with another ${k} (${JSON.stringify(before[k])}, now ${JSON.stringify(now[k])}); use another --out or the same settings to resume`,
      )
  }
  return before
}

/** The trials saved in `out` (none when the file is absent). */
export function readTrials(out: string): Trial[] {
  const file = path.join(out, FILES.trials)
  if (!fs.existsSync(file)) return []
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
  return lines.map((line, i) => {
    let t: Trial
    try {
      t = JSON.parse(line) as Trial
    } catch (e) {
      throw new Error(`search: ${file} line ${i + 1} is not valid JSON (${(e as Error).message})`)
    }
    if (t.index !== i) throw new Error(`search: ${file} line ${i + 1} holds trial ${t.index}, expected ${i}`)
    return t
  })
}

/** The next genome the strategy proposes after `history`: under the budget, a network not tried before. */
export function proposeTrial(settings: SearchSettings, history: Trial[]): Genome {
  const { space } = settings
  const tried = new Set(history.map((t) => t.key))
  const numClasses = upstreamSource(settings.proxy.source).numClasses
  const withinBudget = (g: Genome): boolean =>
    settings.budgetFlops === null ||
    analyticCost(genomeToConfig(space, g, { numClasses }), settings.proxy.imageSize).macs <= settings.budgetFlops
  return createStrategy(settings.strategy, settings.strategyOptions).propose({
    cardinalities: cardinalities(space),
    history: history.map((t) => ({ genome: t.genome, score: t.score })),
    rng: Rng.derive(settings.seed, history.length),
    feasible: (g) => !tried.has(genomeKey(space, g)) && withinBudget(g),
    active: (g) => activeDecisions(space, g),
  })
}

/** The best trial: highest score, then fewest FLOPs, then earliest. */
export function bestTrial(trials: Trial[]): Trial | null {
  let best: Trial | null = null
  for (const t of trials)
    if (!best || t.score > best.score || (t.score === best.score && t.flops < best.flops)) best = t
  return best
}

function writeOutputs(out: string, settings: SearchSettings, trials: Trial[]): void {
  writeText(path.join(out, FILES.trials), trials.map((t) => JSON.stringify(t) + '\n').join(''))
  const best = bestTrial(trials)
  const flopsPoints = trials.map((t) => ({ id: t.index, cost: t.flops, score: t.score }))
  const latencyPoints = trials.map((t) => ({ id: t.index, cost: t.latencyMs, score: t.score }))
  const front = (points: typeof flopsPoints, cost: string) =>
    paretoFront(points).map((p) => ({ trial: p.id, [cost]: p.cost, score: p.score }))
  writeText(
    path.join(out, FILES.pareto),
    JSON.stringify(
      {
        budgetFlops: settings.budgetFlops,
        trials: trials.length,
        flops: front(flopsPoints, 'flops'),
        latency: front(latencyPoints, 'latencyMs'),
      },
      null,
      2,
    ) + '\n',
  )
  writeText(
    path.join(out, FILES.chart),
    paretoChart([
      {
        title: 'score against FLOPs',
        xLabel: `MFLOPs (multiply-adds) at ${settings.proxy.imageSize} px`,
        points: flopsPoints.map((p) => ({ ...p, cost: p.cost / 1e6 })),
        highlight: best?.index,
      },
      {
        title: `score against latency (${settings.latency.device}, batch ${settings.latency.batch})`,
        xLabel: 'latency (ms)',
        points: latencyPoints,
        highlight: best?.index,
      },
    ]),
  )
  if (best) {
    const { config, index, genome, score, params, flops, latencyMs } = best
    writeText(
      path.join(out, FILES.best),
      JSON.stringify(
        {
          config,
          trial: index,
          genome,
          score,
          params,
          flops,
          latencyMs,
          imageSize: settings.proxy.imageSize,
          budgetFlops: settings.budgetFlops,
        },
        null,
        2,
      ) + '\n',
    )
  }
}

/** Runs (or resumes) a search; see SearchOptions. */
export async function runSearch(options: SearchOptions): Promise<SearchResult> {
  const log = options.log ?? ((line: string) => console.log(line))
  const settings = resolveSettings(options)
  const { out } = options
  if (typeof out !== 'string' || out === '')
    throw new Error(`search: out must be a folder path, got ${JSON.stringify(out)}`)
  fs.mkdirSync(out, { recursive: true })
  const before = previousSettings(out, settings)
  const trials = readTrials(out)
  if (trials.length > settings.trials)
    throw new Error(`search: ${out} already holds ${trials.length} trials, more than the ${settings.trials} asked for`)
  if (!before || before.trials !== settings.trials)
    writeText(path.join(out, FILES.settings), JSON.stringify(settings, null, 2) + '\n')
  if (trials.length > 0) log(`search: resuming ${out} at trial ${trials.length} of ${settings.trials}`)
  const { space, proxy: p } = settings
  const proxy = new ProxyTask(p)
  const latency = new LatencyTable({
    ...settings.latency,
    cacheFile: options.latency?.cacheFile ?? path.join(out, FILES.latency),
  })
  const ran = settings.trials - trials.length
  if (ran > 0) {
    const loading = performance.now()
    await proxy.load()
    log(
      `search: proxy data '${p.source}' (${p.trainSize} train, ${p.valSize} val, ${p.imageSize} px) ready in ${((performance.now() - loading) / 1000).toFixed(1)} s`,
    )
  }
  while (trials.length < settings.trials) {
    const index = trials.length
    const started = performance.now()
    const genome = proposeTrial(settings, trials)
    const config = genomeToConfig(space, genome, {
      name: `${space.name}-${settings.strategy}-t${index}`,
      numClasses: proxy.numClasses,
    })
    const cost = analyticCost(config, p.imageSize)
    const lat = latency.measure(config, p.imageSize)
    const result = await proxy.score(config)
    const trial: Trial = {
      index,
      genome,
      key: genomeKey(space, genome),
      config,
      params: cost.params,
      flops: cost.macs,
      latencyMs: lat.ms,
      score: result.score,
      trainLoss: result.trainLoss,
      diverged: result.diverged,
      seconds: (performance.now() - started) / 1000,
    }
    trials.push(trial)
    writeOutputs(out, settings, trials)
    log(
      `search: trial ${index + 1}/${settings.trials} score ${trial.score.toFixed(4)} ${(trial.flops / 1e6).toFixed(2)} MFLOPs ` +
        `${(trial.params / 1e6).toFixed(3)}M params ${trial.latencyMs.toFixed(2)} ms (${lat.timed} of ${lat.layers} layers newly timed) ${trial.seconds.toFixed(1)} s${trial.diverged ? ' (diverged)' : ''}`,
    )
  }
  if (ran === 0) writeOutputs(out, settings, trials)
  return { settings, trials, best: bestTrial(trials), ran }
}

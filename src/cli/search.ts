// `intern-vision search`: the GV-A architecture search over MetaNet's conv + attention space
// (src/search), and `intern-vision search compare`, which measures searched networks against
// zoo ones over several seeds.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import { atomicWrite } from '../io/atomic'
import { metaNetConfig, METANET_CONFIGS } from '../models/metanet/config'
import { loadMetaNetConfig } from '../models/zoo'
import { upstreamSource } from '../data/gvd/upstream'
import { analyticCost } from '../search/cost'
import { compareArchitectures, comparisonTable } from '../search/compare'
import { PROXY_DEFAULTS, type ProxyOptions } from '../search/proxy'
import { FILES, runSearch } from '../search/search'
import { STRATEGY_NAMES, type StrategyName } from '../search/strategies'
import { SEARCH_SPACES } from '../search/space'
import type { Device } from '../tensor/dtype'

export const SEARCH_USAGE = `usage: intern-vision search --trials N --out DIR [options]
       intern-vision search compare --models a,b --out DIR [options]

Searches MetaNet's conv + attention space (docs/search.md). DIR receives trials.jsonl (every
trial: genome, config, params, FLOPs, latency, score), pareto.json and pareto.svg (score against
FLOPs and against latency), best.json (the best config under the budget; --model DIR/best.json
loads it anywhere a model name is accepted) and latency-cache.json. Rerunning the same command
resumes the search; a larger --trials extends it.
  --trials N             trials in all (required)
  --out DIR              output folder (required)
  --strategy S           ${STRATEGY_NAMES.join(' | ')} (default evolution)
  --budget-flops F       most multiply-adds per image at --image-size: a number (2.5e6) or a
                         MetaNet (mn-t, or a config .json) whose FLOPs set the budget
  --space S              ${Object.keys(SEARCH_SPACES).join(' | ')} | a space .json (default tiny)
  --seed N               seeds the proposals and the proxy (default 0)
  --population N         evolution: population (default 8)
  --sample-size N        evolution: tournament size (default 3)
  --rl-lr X              rl: step size on the policy's logits (default 0.3)
  --latency-batch N      images per timed forward (default 1)
  --latency-repeats N    timed forwards per layer, median kept (default 5)
  --device cpu|cuda      where latency is measured (default cpu)
  --latency-cache FILE   latency cache to share between searches (default DIR/${FILES.latency})
proxy (both commands):
  --proxy-steps N        optimizer steps per candidate (default ${PROXY_DEFAULTS.steps})
  --proxy-source NAME    upstream classification source (default ${PROXY_DEFAULTS.source})
  --image-size N         (default ${PROXY_DEFAULTS.imageSize})   --train-size N (default ${PROXY_DEFAULTS.trainSize})
  --val-size N           (default ${PROXY_DEFAULTS.valSize})  --batch-size N (default ${PROXY_DEFAULTS.batchSize})
  --lr X                 AdamW peak lr (default ${PROXY_DEFAULTS.lr})
compare:
  --models a,b           zoo MetaNets or config .json files (e.g. DIR/best.json)
  --seeds 0,1,2          (default 0,1,2)
  --tasks a,b            GV-B classification tasks for the linear probe (default world-sketch-shape)
  --percent P            percent of each task's training split (default 10)
  writes DIR/compare.json and prints a markdown table`

/** Bad command-line input: one line, exit code 2. */
class UsageError extends Error {}

const PROXY_FLAGS = {
  'proxy-steps': { type: 'string' },
  'proxy-source': { type: 'string' },
  'image-size': { type: 'string' },
  'train-size': { type: 'string' },
  'val-size': { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean' },
} as const

type Values = Record<string, string | boolean | undefined>

function int(values: Values, flag: string, min: number): number | undefined {
  const v = values[flag]
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${flag} must be an integer >= ${min}, got '${v}'`)
  return n
}

function positive(values: Values, flag: string): number | undefined {
  const v = values[flag]
  if (v === undefined) return undefined
  const n = Number(v)
  if (!(Number.isFinite(n) && n > 0)) throw new UsageError(`--${flag} must be a positive number, got '${v}'`)
  return n
}

function proxyOptions(values: Values): ProxyOptions {
  const o: ProxyOptions = {
    steps: int(values, 'proxy-steps', 1),
    source: values['proxy-source'] as string | undefined,
    imageSize: int(values, 'image-size', 8),
    trainSize: int(values, 'train-size', 1),
    valSize: int(values, 'val-size', 1),
    batchSize: int(values, 'batch-size', 1),
    lr: positive(values, 'lr'),
    seed: int(values, 'seed', 0),
  }
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as ProxyOptions
}

/** A FLOPs budget: a number, or the FLOPs of a MetaNet at the proxy's image size and classes. */
function budgetOf(text: string, proxy: ProxyOptions): number {
  const n = Number(text)
  if (text.trim() !== '' && Number.isFinite(n)) {
    if (!(n > 0)) throw new UsageError(`--budget-flops must be positive, got '${text}'`)
    return n
  }
  if (!METANET_CONFIGS[text] && !text.endsWith('.json'))
    throw new UsageError(
      `--budget-flops must be a number, a zoo MetaNet (${Object.keys(METANET_CONFIGS).join(', ')}) or a config .json, got '${text}'`,
    )
  const config = METANET_CONFIGS[text] ? metaNetConfig(text) : loadMetaNetConfig(text)
  const numClasses = upstreamSource(proxy.source ?? PROXY_DEFAULTS.source).numClasses
  return analyticCost({ ...config, numClasses }, proxy.imageSize ?? PROXY_DEFAULTS.imageSize).macs
}

function required(values: Values, flag: string): string {
  const v = values[flag]
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${flag} is required`)
  return v
}

async function search(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...PROXY_FLAGS,
      trials: { type: 'string' },
      strategy: { type: 'string' },
      'budget-flops': { type: 'string' },
      space: { type: 'string' },
      population: { type: 'string' },
      'sample-size': { type: 'string' },
      'rl-lr': { type: 'string' },
      'latency-batch': { type: 'string' },
      'latency-repeats': { type: 'string' },
      device: { type: 'string' },
      'latency-cache': { type: 'string' },
    },
  })
  if (values.help) return usage(0)
  const out = required(values, 'out')
  const trials = int(values, 'trials', 1)
  if (trials === undefined) throw new UsageError('--trials is required')
  const strategy = (values.strategy ?? 'evolution') as StrategyName
  if (!STRATEGY_NAMES.includes(strategy))
    throw new UsageError(`--strategy must be one of ${STRATEGY_NAMES.join(', ')}, got '${values.strategy}'`)
  const device = (values.device ?? 'cpu') as Device
  if (device !== 'cpu' && device !== 'cuda')
    throw new UsageError(`--device must be cpu or cuda, got '${values.device}'`)
  const proxy = proxyOptions(values)
  const strategyOptions = Object.fromEntries(
    Object.entries({
      population: int(values, 'population', 2),
      sampleSize: int(values, 'sample-size', 1),
      lr: positive(values, 'rl-lr'),
    }).filter(([, v]) => v !== undefined),
  )
  const started = performance.now()
  const result = await runSearch({
    out,
    trials,
    strategy,
    strategyOptions,
    space: values.space ?? 'tiny',
    budgetFlops: values['budget-flops'] === undefined ? undefined : budgetOf(values['budget-flops'], proxy),
    seed: proxy.seed,
    proxy,
    latency: {
      batch: int(values, 'latency-batch', 1),
      repeats: int(values, 'latency-repeats', 1),
      device,
      cacheFile: values['latency-cache'],
    },
  })
  const best = result.best
  const searchSeconds = result.trials.reduce((a, t) => a + t.seconds, 0)
  console.log(
    `search: ${result.trials.length} trials (${result.ran} run now, ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
      `${searchSeconds.toFixed(1)} s in trials overall)` +
      (best
        ? `; best trial ${best.index}: score ${best.score.toFixed(4)}, ${(best.flops / 1e6).toFixed(2)} MFLOPs -> ${path.join(out, FILES.best)}`
        : ''),
  )
  return 0
}

async function compare(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...PROXY_FLAGS,
      models: { type: 'string' },
      seeds: { type: 'string' },
      tasks: { type: 'string' },
      percent: { type: 'string' },
    },
  })
  if (values.help) return usage(0)
  const out = required(values, 'out')
  const models = required(values, 'models')
    .split(',')
    .map((s) => s.trim())
  if (models.some((m) => m === ''))
    throw new UsageError(`--models must be a comma-separated list, got '${values.models}'`)
  const seeds = (values.seeds ?? '0,1,2').split(',').map((s) => {
    const n = Number(s)
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--seeds: '${s}' is not a non-negative integer`)
    return n
  })
  const percent = positive(values, 'percent') ?? 10
  if (percent > 100) throw new UsageError(`--percent must be in (0, 100], got '${values.percent}'`)
  for (const m of models)
    if (!METANET_CONFIGS[m] && !fs.existsSync(m))
      throw new UsageError(`--models: '${m}' is neither a zoo MetaNet nor an existing file`)
  const tasks = values.tasks?.split(',').map((s) => s.trim())
  if (tasks?.some((s) => s === ''))
    throw new UsageError(`--tasks must be a comma-separated list, got '${values.tasks}'`)
  const result = await compareArchitectures({ models, seeds, proxy: proxyOptions(values), tasks, percent })
  fs.mkdirSync(out, { recursive: true })
  atomicWrite(path.join(out, 'compare.json'), (write) => write(Buffer.from(JSON.stringify(result, null, 2) + '\n')))
  console.log(comparisonTable(result))
  return 0
}

function usage(code: number): number {
  ;(code === 0 ? console.log : console.error)(SEARCH_USAGE)
  return code
}

/** Runs `intern-vision search ...` (argv without the command word); resolves to the exit code. */
export async function searchCommand(argv: string[]): Promise<number> {
  try {
    return argv[0] === 'compare' ? await compare(argv.slice(1)) : await search(argv)
  } catch (e) {
    const err = e as Error & { code?: string }
    if (e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`intern-vision search: ${err.message}\n\n${SEARCH_USAGE}`)
      return 2
    }
    throw e
  }
}

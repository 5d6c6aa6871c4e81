// The benchmark runner: every model x task x protocol x percent x seed, one ResultRow each.
// results.json is rewritten (atomically) after every row and the report after every finished
// task, and rows already in `out/results.json` are skipped, so a stopped run continues where it
// stopped and separate runs (say, `intern-vision evaluate` of several models) merge into one report.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { atomicWrite } from '../io/atomic'
import type { Backbone } from '../models/zoo'
import { cpuInfo, packageVersion } from '../runtime'
import type { RunContext } from './protocols/common'
import { FeatureCache } from './protocols/features'
import { PROTOCOLS, runProtocol, type ProtocolName, type ProtocolOptions } from './protocols/protocol'
import { REPORT_FILES, writeReport } from './report'
import {
  mergeResults,
  PROTOCOL_NAMES,
  readResults,
  rowKey,
  type Protocol,
  type ResultRow,
  type RunResults,
} from './results'
import { getTask, type BenchmarkTask } from './tasks'

export interface BenchmarkModel {
  /** The method id of its rows (ResultRow.method). */
  id: string
  label: string
  description?: string
  /** Called once, and only when some of the model's rows are still missing. */
  load(): Backbone | Promise<Backbone>
}

/**
 * One row of a protocol the runner has no built-in for (Down-A, say); it must return a row for exactly `ctx` and this
 * protocol.
 */
export type ProtocolRunner = (backbone: Backbone, task: BenchmarkTask, ctx: RunContext) => Promise<ResultRow>

export const RESULTS_FILE = REPORT_FILES.results

export interface RunBenchmarkOptions extends ProtocolOptions {
  models: BenchmarkModel[]
  /** Task names (getTask) or tasks. */
  tasks: (string | BenchmarkTask)[]
  /** Default [10, 100]. */
  percents?: number[]
  /** Default [0]. */
  seeds?: number[]
  /** Default ['linear']. 'linear' and 'finetune' are built in; others need a runner. */
  protocols?: Protocol[]
  runners?: Partial<Record<Protocol, ProtocolRunner>>
  /** The run folder: results.json, report.md, report.html (and features/ with diskCache). */
  out: string
  /** Recorded in results.json. Defaults: the folder's name, '' (no preset). */
  name?: string
  preset?: string
  /**
   * Also keep frozen features under out/features, so a restarted run reads them back (about 0.1 GB per model and dense
   * task for mn-t at 64 px). Default false.
   */
  diskCache?: boolean
  /** Called after each new row (not for rows already in results.json). */
  onRow?: (row: ResultRow) => void
}

/** What the results record about this machine. */
export function machineFacts(): RunResults['machine'] {
  const cpus = os.cpus()
  const info = cpuInfo()
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    threads: info.threads,
    kernelSet: info.isa,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  }
}

function checkOptions(o: RunBenchmarkOptions): {
  tasks: BenchmarkTask[]
  percents: number[]
  seeds: number[]
  protocols: Protocol[]
} {
  const fn = 'runBenchmark'
  if (!Array.isArray(o.models) || o.models.length === 0)
    throw new Error(`${fn}: models must be a non-empty list of { id, label, load }`)
  const ids = new Set<string>()
  for (const m of o.models) {
    if (typeof m?.id !== 'string' || m.id === '' || typeof m.load !== 'function')
      throw new Error(`${fn}: each model needs a non-empty id and a load() function`)
    if (ids.has(m.id)) throw new Error(`${fn}: model id '${m.id}' is given twice`)
    ids.add(m.id)
  }
  if (!Array.isArray(o.tasks) || o.tasks.length === 0)
    throw new Error(`${fn}: tasks must be a non-empty list of task names`)
  const tasks = o.tasks.map((t) => (typeof t === 'string' ? getTask(t) : t))
  const percents = o.percents ?? [10, 100]
  for (const p of percents)
    if (typeof p !== 'number' || !(p > 0 && p <= 100))
      throw new RangeError(`${fn}: percents must be in (0, 100], got ${p}`)
  const seeds = o.seeds ?? [0]
  for (const s of seeds)
    if (!Number.isSafeInteger(s) || s < 0) throw new RangeError(`${fn}: seeds must be non-negative integers, got ${s}`)
  const protocols = o.protocols ?? ['linear']
  for (const p of protocols) {
    if (!PROTOCOL_NAMES.includes(p))
      throw new Error(`${fn}: unknown protocol '${p}'; known: ${PROTOCOL_NAMES.join(', ')}`)
    if (!PROTOCOLS.includes(p as ProtocolName) && typeof o.runners?.[p] !== 'function')
      throw new Error(`${fn}: protocol '${p}' needs a runner (options.runners['${p}'])`)
  }
  if (typeof o.out !== 'string' || o.out === '') throw new Error(`${fn}: out must be a folder path`)
  const unique = <T>(xs: T[]): T[] => [...new Set(xs)]
  return {
    tasks: tasks.filter((t, i) => tasks.findIndex((u) => u.name === t.name) === i),
    percents: unique(percents),
    seeds: unique(seeds),
    protocols: unique(protocols),
  }
}

/**
 * This run's record (no rows yet), merged into the results already in `out` when there are some
 * (whose name and preset it keeps unless new ones are given).
 */
function startResults(o: RunBenchmarkOptions, tasks: BenchmarkTask[], seeds: number[]): RunResults {
  const file = path.join(o.out, RESULTS_FILE)
  const existing = fs.existsSync(file) ? readResults(file) : null
  const fresh: RunResults = {
    name: o.name ?? existing?.name ?? path.basename(path.resolve(o.out)),
    version: packageVersion(),
    preset: o.preset ?? existing?.preset ?? '',
    startedAt: new Date().toISOString(),
    finishedAt: null,
    machine: machineFacts(),
    seeds,
    methods: o.models.map((m) => ({ id: m.id, label: m.label ?? m.id, description: m.description ?? '' })),
    stages: [],
    tasks: tasks.map((t) => t.card),
    rows: [],
  }
  return existing ? mergeResults(existing, fresh) : fresh
}

function saveResults(out: string, results: RunResults): void {
  const text = JSON.stringify(results, null, 2) + '\n'
  atomicWrite(path.join(out, RESULTS_FILE), (write) => write(Buffer.from(text)))
}

/** Runs every missing combination and returns the merged results (also in out/results.json and the report). */
export async function runBenchmark(o: RunBenchmarkOptions): Promise<RunResults> {
  const { tasks, percents, seeds, protocols } = checkOptions(o)
  fs.mkdirSync(o.out, { recursive: true })
  const results = startResults(o, tasks, seeds)
  const have = new Set(results.rows.map(rowKey))
  const cache = new FeatureCache({ dir: o.diskCache ? path.join(o.out, 'features') : undefined })
  saveResults(o.out, results)
  for (const model of o.models) {
    const todo = (task: BenchmarkTask) =>
      protocols.flatMap((protocol) =>
        percents.flatMap((percent) =>
          seeds
            .map((seed) => ({ method: model.id, task: task.name, percent, protocol, seed }))
            .filter((k) => !have.has(rowKey(k))),
        ),
      )
    if (tasks.every((t) => todo(t).length === 0)) continue
    const backbone = await model.load()
    for (const task of tasks) {
      const missing = todo(task)
      if (missing.length === 0) continue
      for (const k of missing) {
        const ctx: RunContext = { method: model.id, percent: k.percent, seed: k.seed, cache }
        const runner = o.runners?.[k.protocol]
        const row = runner
          ? await runner(backbone, task, ctx)
          : await runProtocol(k.protocol as ProtocolName, backbone, task, ctx, o)
        if (rowKey(row) !== rowKey(k))
          throw new Error(
            `runBenchmark: the '${k.protocol}' runner returned a row for ${rowKey(row)}, expected ${rowKey(k)}`,
          )
        results.rows.push(row)
        have.add(rowKey(row))
        saveResults(o.out, results)
        o.onRow?.(row)
      }
      cache.evict(task.name)
      writeReport(o.out, results)
    }
  }
  results.finishedAt = new Date().toISOString()
  writeReport(o.out, results)
  return results
}

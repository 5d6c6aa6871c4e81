// The results of a benchmark run (results.json): what ran where, the upstream stages, the task
// cards and one row per (method, task, percent, protocol, seed). The report is computed from
// this alone. A row's `value` is the task's metric as src/benchmark/metrics returns it:
// accuracies, mAP, MR^-2, mIoU and delta1 as fractions in [0, 1], RMSE in the target's unit.
import * as fs from 'node:fs'
import type { MetricName, TaskCard } from './tasks'

export type { MetricName, TaskCard } from './tasks'

export type Protocol = 'linear' | 'finetune' | 'down-a'
export const PROTOCOL_NAMES: readonly Protocol[] = ['linear', 'finetune', 'down-a']
export const METRIC_NAMES: readonly MetricName[] = [
  'top1',
  'meanPerClassAccuracy',
  'map50',
  'mr2',
  'miou',
  'rmse',
  'delta1',
]

export interface ResultRow {
  method: string
  task: string
  /** Percentage of the task's training split, in (0, 100]. */
  percent: number
  protocol: Protocol
  seed: number
  value: number
  /** The task's extra metrics and the protocol's chosen hyper-parameters. */
  extra: Record<string, number>
  seconds: number
}

export interface StageSummary {
  name: string
  kind: string
  seconds: number
  steps: number
  finalLosses: Record<string, number>
  curve: { step: number; loss: number }[]
}

export interface RunResults {
  name: string
  version: string
  preset: string
  startedAt: string
  /** null while the run is still going (the report then says its results are partial). */
  finishedAt: string | null
  machine: { cpu: string; cores: number; threads: number; kernelSet: string; node: string; platform: string }
  seeds: number[]
  methods: { id: string; label: string; description: string }[]
  stages: StageSummary[]
  tasks: TaskCard[]
  rows: ResultRow[]
}

/** What identifies a row: two rows with the same key measure the same thing. */
export function rowKey(r: Pick<ResultRow, 'method' | 'task' | 'percent' | 'protocol' | 'seed'>): string {
  return JSON.stringify([r.method, r.task, r.percent, r.protocol, r.seed])
}

/**
 * `update` merged into `base` (e.g. a new `intern-vision evaluate` run into an existing folder):
 * a row of `update` replaces the row of `base` with the same key; methods, tasks and stages of
 * `update` replace those with the same id / name; seeds are united; the run facts (name, version,
 * preset, machine, finishedAt) are `update`'s, and startedAt is the earlier of the two.
 */
export function mergeResults(base: RunResults, update: RunResults): RunResults {
  const byKey = <T>(key: (x: T) => string, a: T[], b: T[]): T[] => {
    const out = new Map(a.map((x) => [key(x), x]))
    for (const x of b) out.set(key(x), x)
    return [...out.values()]
  }
  return {
    ...update,
    startedAt: base.startedAt < update.startedAt ? base.startedAt : update.startedAt,
    seeds: [...new Set([...base.seeds, ...update.seeds])].sort((x, y) => x - y),
    methods: byKey((m) => m.id, base.methods, update.methods),
    stages: byKey((s) => s.name, base.stages, update.stages),
    tasks: byKey((t) => t.name, base.tasks, update.tasks),
    rows: byKey(rowKey, base.rows, update.rows),
  }
}

/** Reads and validates a results.json; any problem is an Error naming the file and the field. */
export function readResults(file: string): RunResults {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    throw new Error(`readResults: cannot read '${file}': ${(e as Error).message}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    throw new Error(`readResults: '${file}' is not valid JSON: ${(e as Error).message}`)
  }
  return validateResults(value, `readResults: '${file}'`)
}

/**
 * Checks that `value` is a complete RunResults (finite numbers, known protocols and metrics, every
 * row's task has a card, no two rows with the same key) and returns it; `where` starts each error.
 */
export function validateResults(value: unknown, where: string): RunResults {
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new Error(`${where}: ${field} must be ${expected}, got ${describe(got)}`)
  }
  const object = (v: unknown, field: string): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : fail(field, 'an object', v)
  const list = (v: unknown, field: string): unknown[] => (Array.isArray(v) ? v : fail(field, 'an array', v))
  const text = (o: Record<string, unknown>, key: string, field: string): void => {
    if (typeof o[key] !== 'string') fail(`${field}.${key}`, 'a string', o[key])
  }
  const finite = (o: Record<string, unknown>, key: string, field: string): void => {
    if (typeof o[key] !== 'number' || !Number.isFinite(o[key])) fail(`${field}.${key}`, 'a finite number', o[key])
  }
  const numbers = (v: unknown, field: string): void => {
    const o = object(v, field)
    for (const key of Object.keys(o)) finite(o, key, field)
  }
  const oneOf = <T>(o: Record<string, unknown>, key: string, field: string, allowed: readonly T[]): void => {
    if (!allowed.includes(o[key] as T)) fail(`${field}.${key}`, `one of ${allowed.join(', ')}`, o[key])
  }

  const r = object(value, 'the results')
  for (const key of ['name', 'version', 'preset', 'startedAt']) text(r, key, 'results')
  if (r.finishedAt !== null) text(r, 'finishedAt', 'results')
  const machine = object(r.machine, 'machine')
  for (const key of ['cpu', 'kernelSet', 'node', 'platform']) text(machine, key, 'machine')
  for (const key of ['cores', 'threads']) finite(machine, key, 'machine')
  list(r.seeds, 'seeds').forEach((s, i) => {
    if (!Number.isSafeInteger(s) || (s as number) < 0) fail(`seeds[${i}]`, 'a non-negative integer', s)
  })
  list(r.methods, 'methods').forEach((v, i) => {
    const m = object(v, `methods[${i}]`)
    for (const key of ['id', 'label', 'description']) text(m, key, `methods[${i}]`)
  })
  list(r.stages, 'stages').forEach((v, i) => {
    const field = `stages[${i}]`
    const s = object(v, field)
    for (const key of ['name', 'kind']) text(s, key, field)
    for (const key of ['seconds', 'steps']) finite(s, key, field)
    numbers(s.finalLosses, `${field}.finalLosses`)
    list(s.curve, `${field}.curve`).forEach((p, k) => {
      const point = object(p, `${field}.curve[${k}]`)
      finite(point, 'step', `${field}.curve[${k}]`)
      finite(point, 'loss', `${field}.curve[${k}]`)
    })
  })
  const taskNames = new Set<string>()
  list(r.tasks, 'tasks').forEach((v, i) => {
    const field = `tasks[${i}]`
    const c = object(v, field)
    for (const key of ['name', 'description', 'data']) text(c, key, field)
    const sizes = object(c.sizes, `${field}.sizes`)
    finite(sizes, 'train', `${field}.sizes`)
    finite(sizes, 'test', `${field}.sizes`)
    oneOf(c, 'metric', field, METRIC_NAMES)
    oneOf(c, 'direction', field, ['higher', 'lower'])
    list(c.extraMetrics, `${field}.extraMetrics`).forEach((m, k) => {
      if (!METRIC_NAMES.includes(m as MetricName))
        fail(`${field}.extraMetrics[${k}]`, `one of ${METRIC_NAMES.join(', ')}`, m)
    })
    finite(c, 'imageSize', field)
    finite(c, 'numClasses', field)
    list(c.classNames, `${field}.classNames`).forEach((n, k) => {
      if (typeof n !== 'string') fail(`${field}.classNames[${k}]`, 'a string', n)
    })
    if (taskNames.has(c.name as string)) fail(`${field}.name`, 'unique', c.name)
    taskNames.add(c.name as string)
  })
  const keys = new Set<string>()
  list(r.rows, 'rows').forEach((v, i) => {
    const field = `rows[${i}]`
    const row = object(v, field)
    text(row, 'method', field)
    text(row, 'task', field)
    if (!taskNames.has(row.task as string))
      fail(`${field}.task`, `a task with a card in tasks (${[...taskNames].join(', ') || 'none'})`, row.task)
    if (typeof row.percent !== 'number' || !(row.percent > 0 && row.percent <= 100))
      fail(`${field}.percent`, 'a number in (0, 100]', row.percent)
    oneOf(row, 'protocol', field, PROTOCOL_NAMES)
    if (!Number.isSafeInteger(row.seed) || (row.seed as number) < 0)
      fail(`${field}.seed`, 'a non-negative integer', row.seed)
    finite(row, 'value', field)
    numbers(row.extra, `${field}.extra`)
    finite(row, 'seconds', field)
    const key = rowKey(row as unknown as ResultRow)
    if (keys.has(key)) fail(field, 'the only row for its method, task, percent, protocol and seed', key)
    keys.add(key)
  })
  return value as RunResults
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing'
  const s = JSON.stringify(v)
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}

// What every table, chart and claim of the report is made of: a cell's mean, sample standard
// deviation and seed count over the rows of one (method, task, percent, protocol), the
// classification average, and how numbers are written.
import type { MetricName, Protocol, ResultRow, RunResults, TaskCard } from '../results'
import type { TaskType } from '../tasks'

/** Mean and sample standard deviation (n - 1) over seeds; std is null for a single seed. */
export interface Stats {
  mean: number
  std: number | null
  n: number
}

export interface Setting {
  percent: number
  protocol: Protocol
}

export const TEN_PERCENT_LINEAR: Setting = { percent: 10, protocol: 'linear' }
export const FULL_LINEAR: Setting = { percent: 100, protocol: 'linear' }

export function meanStd(values: number[]): Stats {
  const n = values.length
  if (n === 0) throw new Error('meanStd: no values')
  const mean = values.reduce((s, v) => s + v, 0) / n
  if (n === 1) return { mean, std: null, n }
  const squares = values.reduce((s, v) => s + (v - mean) * (v - mean), 0)
  return { mean, std: Math.sqrt(squares / (n - 1)), n }
}

/** Task type from the task's metric, so that any card (a user's task too) has one. */
export function taskType(card: TaskCard): TaskType {
  switch (card.metric) {
    case 'top1':
    case 'meanPerClassAccuracy':
      return 'classification'
    case 'map50':
    case 'mr2':
      return 'detection'
    case 'miou':
      return 'segmentation'
    case 'rmse':
    case 'delta1':
      return 'depth'
  }
}

export const TASK_TYPES: readonly TaskType[] = ['classification', 'detection', 'segmentation', 'depth']

/** Task cards in report order: by type (classification, detection, segmentation, depth), then as listed. */
export function orderedTasks(results: RunResults, type?: TaskType): TaskCard[] {
  return TASK_TYPES.flatMap((t) => results.tasks.filter((c) => taskType(c) === t)).filter(
    (c) => type === undefined || taskType(c) === type,
  )
}

/** The rows of one (method, task, setting), one per seed, in seed order. */
export function cellRows(results: RunResults, method: string, task: string, setting: Setting): ResultRow[] {
  return results.rows
    .filter(
      (r) => r.method === method && r.task === task && r.percent === setting.percent && r.protocol === setting.protocol,
    )
    .sort((a, b) => a.seed - b.seed)
}

export function cellStats(results: RunResults, method: string, task: string, setting: Setting): Stats | null {
  const rows = cellRows(results, method, task, setting)
  return rows.length === 0 ? null : meanStd(rows.map((r) => r.value))
}

/**
 * The classification average (CLS-AVG) of a method: for each seed that has a value on every
 * classification task, the mean over those tasks; then mean and std of these per-seed averages.
 * Null when there is no classification task or no seed has all of them, so an average never
 * mixes different task sets.
 */
export function classificationAverage(results: RunResults, method: string, setting: Setting): Stats | null {
  const tasks = orderedTasks(results, 'classification')
  if (tasks.length === 0) return null
  const bySeed = new Map<number, number[]>()
  for (const task of tasks) {
    for (const row of cellRows(results, method, task.name, setting))
      bySeed.set(row.seed, [...(bySeed.get(row.seed) ?? []), row.value])
  }
  const averages = [...bySeed.entries()]
    .filter(([, values]) => values.length === tasks.length)
    .sort(([a], [b]) => a - b)
    .map(([, values]) => values.reduce((s, v) => s + v, 0) / values.length)
  return averages.length === 0 ? null : meanStd(averages)
}

/** Method ids in the declared order, then ids that only appear in rows (a user's own model). */
export function methodIds(results: RunResults): string[] {
  const ids = results.methods.map((m) => m.id)
  for (const r of results.rows) if (!ids.includes(r.method)) ids.push(r.method)
  return ids
}

/** The pipeline's method ids and their labels; a declared label wins, an unknown id is its own label. */
export const KNOWN_METHODS: Record<string, string> = {
  scratch: 'Scratch (random init)',
  'sup-single': 'Supervised, single source',
  'image-text': 'Image-text only (CLIP analogue)',
  'up-a': 'Up-A',
  'up-e-c': 'Up-E (C)',
  'up-e-d': 'Up-E (D)',
  'up-e-s': 'Up-E (S)',
  'up-g-cd': 'Up-G (C-D)',
  'up-g-cds': 'Up-G (C-D-S)',
}

export function methodLabel(results: RunResults, id: string): string {
  return results.methods.find((m) => m.id === id)?.label ?? KNOWN_METHODS[id] ?? id
}

/** Table 6's upstream stages and the method that stands for each. */
export const STAGE_METHODS: [string, string][] = [
  ['Up-A (amateur)', 'up-a'],
  ['Up-E (expert C)', 'up-e-c'],
  ['Up-G (generalist C-D-S)', 'up-g-cds'],
]

/** Whether a method is declared or has rows, i.e. whether the report should show it. */
export function hasMethod(results: RunResults, id: string): boolean {
  return results.methods.some((m) => m.id === id) || results.rows.some((r) => r.method === id)
}

// ---- formatting --------------------------------------------------------------------------------

/** Metrics stored as fractions are shown as percentages; RMSE keeps its unit. */
export function isPercentMetric(metric: MetricName): boolean {
  return metric !== 'rmse'
}

/** A metric value as the report writes it: 74.3 (percent) or 0.842 (RMSE). */
export function formatValue(value: number, metric: MetricName): string {
  return isPercentMetric(metric) ? (value * 100).toFixed(1) : value.toFixed(3)
}

/** A cell: mean ± std (n = k), mean (n = 1), or '–' when nothing was measured. */
export function formatStats(stats: Stats | null, metric: MetricName): string {
  if (stats === null) return MISSING
  const mean = formatValue(stats.mean, metric)
  return stats.std === null ? `${mean} (n=1)` : `${mean} ± ${formatValue(stats.std, metric)} (n=${stats.n})`
}

/** A signed difference in the metric's display unit: '+1.3 pp' or '-0.042'. */
export function formatDifference(difference: number, metric: MetricName): string {
  const text = formatValue(Math.abs(difference), metric)
  const sign = Number(text) === 0 ? '±' : difference > 0 ? '+' : '-'
  return `${sign}${text}${isPercentMetric(metric) ? ' pp' : ''}`
}

export const MISSING = '–'

export function arrow(direction: 'higher' | 'lower'): string {
  return direction === 'higher' ? '↑' : '↓'
}

export function percentLabel(percent: number): string {
  return `${percent}%`
}

export function protocolLabel(protocol: Protocol): string {
  return protocol === 'linear' ? 'linear probe' : protocol === 'finetune' ? 'fine-tune' : 'Down-A'
}

/** The classification average's column name, and the metric it is formatted as (a percentage, like its parts). */
export const CLS_AVG = 'CLS-AVG'
export const CLS_AVG_METRIC: MetricName = 'top1'

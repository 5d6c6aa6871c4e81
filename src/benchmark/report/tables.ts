// The report's tables as plain data, rendered alike by markdown.ts and html.ts, so both files
// always show the same numbers. Missing cells read '–'.
import { formatDuration } from '../../train/progress'
import type { Protocol, RunResults, TaskCard } from '../results'
import type { TaskType } from '../tasks'
import type { Claim } from './claims'
import {
  CLS_AVG,
  CLS_AVG_METRIC,
  FULL_LINEAR,
  MISSING,
  STAGE_METHODS,
  TEN_PERCENT_LINEAR,
  arrow,
  cellRows,
  cellStats,
  classificationAverage,
  formatDifference,
  formatStats,
  formatValue,
  hasMethod,
  meanStd,
  methodIds,
  methodLabel,
  orderedTasks,
  percentLabel,
  protocolLabel,
  taskType,
  type Setting,
} from './summary'

/** Identifies a measured cell (HTML carries it as data-* attributes). */
export interface CellKey {
  method: string
  task: string
  percent: number
  protocol: Protocol
}

export interface Cell {
  text: string
  key?: CellKey
  /** The method was pretrained on this cell's task type (the paper's red cells). */
  highlight?: boolean
  /** A status word ('holds', ...) shown as a badge in HTML. */
  badge?: string
}

export interface Table {
  id: string
  title: string
  caption: string
  /** Optional group headers over the columns: label and span. */
  groups?: { label: string; span: number }[]
  head: string[]
  /** How many leading cells of each row are row headers. */
  rowHeaders: number
  rows: Cell[][]
  notes: string[]
}

/** Baselines whose 100% rows Table 1 always shows. */
export const BASELINES = ['scratch', 'sup-single', 'image-text']
/** The task types each pipeline method was pretrained on (experts and generalists; sup-single: classification). */
export const PRETRAINED_TYPES: Record<string, TaskType[]> = {
  'sup-single': ['classification'],
  'up-e-c': ['classification'],
  'up-e-d': ['detection'],
  'up-e-s': ['segmentation'],
  'up-g-cd': ['classification', 'detection'],
  'up-g-cds': ['classification', 'detection', 'segmentation'],
}
const EXPERT_METHODS = ['up-e-c', 'up-e-d', 'up-e-s', 'up-g-cd', 'up-g-cds']

const text = (value: string): Cell => ({ text: value })
const taskHead = (card: TaskCard): string => `${card.name} ${arrow(card.direction)}`
const CLS_AVG_HEAD = `${CLS_AVG} ${arrow('higher')}`

function metricCell(results: RunResults, method: string, card: TaskCard, setting: Setting, highlight = false): Cell {
  const key = { method, task: card.name, ...setting }
  return { text: formatStats(cellStats(results, method, card.name, setting), card.metric), key, highlight }
}

function averageCell(results: RunResults, method: string, setting: Setting, highlight = false): Cell {
  return {
    text: formatStats(classificationAverage(results, method, setting), CLS_AVG_METRIC),
    key: { method, task: CLS_AVG, ...setting },
    highlight,
  }
}

/** Methods x tasks for a list of (method, setting) rows: CLS-AVG first when there are classification tasks. */
function methodsByTasks(
  results: RunResults,
  entries: { method: string; setting: Setting }[],
): Pick<Table, 'head' | 'rows' | 'rowHeaders'> {
  const tasks = orderedTasks(results)
  const withAverage = tasks.some((c) => taskType(c) === 'classification')
  const head = ['Method', 'Data', ...(withAverage ? [CLS_AVG_HEAD] : []), ...tasks.map(taskHead)]
  const rows = entries.map(({ method, setting }) => [
    text(methodLabel(results, method)),
    text(
      setting.protocol === 'linear'
        ? percentLabel(setting.percent)
        : `${percentLabel(setting.percent)}, ${protocolLabel(setting.protocol)}`,
    ),
    ...(withAverage ? [averageCell(results, method, setting)] : []),
    ...tasks.map((card) => metricCell(results, method, card, setting)),
  ])
  return { head, rows, rowHeaders: 2 }
}

const settingsWithRows = (results: RunResults, method: string, protocol: Protocol): number[] =>
  [...new Set(results.rows.filter((r) => r.method === method && r.protocol === protocol).map((r) => r.percent))].sort(
    (a, b) => a - b,
  )

/**
 * Table 1: every method at 10% (linear probe), other linear percents where measured, the baselines at 100%, Down-A
 * rows.
 */
export function table1(results: RunResults): Table {
  const ids = methodIds(results)
  const entries = ids.map((method) => ({ method, setting: TEN_PERCENT_LINEAR }))
  const percents = [...new Set(ids.flatMap((m) => settingsWithRows(results, m, 'linear')))]
    .filter((p) => p !== 10)
    .sort((a, b) => a - b)
  for (const percent of percents) {
    for (const method of ids) {
      const measured = settingsWithRows(results, method, 'linear').includes(percent)
      if (measured || (percent === 100 && BASELINES.includes(method)))
        entries.push({ method, setting: { percent, protocol: 'linear' } })
    }
  }
  if (!percents.includes(100))
    for (const method of ids.filter((m) => BASELINES.includes(m))) entries.push({ method, setting: FULL_LINEAR })
  for (const method of ids)
    for (const percent of settingsWithRows(results, method, 'down-a'))
      entries.push({ method, setting: { percent, protocol: 'down-a' } })
  return {
    id: 'table-1',
    title: 'Table 1: methods x tasks (linear probe)',
    caption:
      'Frozen backbone, linear probe (dense tasks: a head on frozen features) on 10% of each training split; ' +
      'the baselines also with 100%, and Down-A rows where measured. Cells: mean ± sample std over seeds (n seeds). ' +
      `${CLS_AVG}: per seed, the mean over all classification tasks.`,
    ...methodsByTasks(results, entries),
    notes: directionNote(results),
  }
}

/** Fine-tuning results, when the run has any. */
export function fineTuneTable(results: RunResults): Table | null {
  const entries = methodIds(results).flatMap((method) =>
    settingsWithRows(results, method, 'finetune').map((percent) => ({
      method,
      setting: { percent, protocol: 'finetune' as const },
    })),
  )
  if (entries.length === 0) return null
  return {
    id: 'finetune',
    title: 'Fine-tuning',
    caption:
      'Backbone and head trained end to end from the pretrained weights. Cells: mean ± sample std over seeds (n seeds).',
    ...methodsByTasks(results, entries),
    notes: directionNote(results),
  }
}

/** Tables 2-4: experts and generalists at 10% on seen task types and on depth, which no expert saw. */
export function expertTable(results: RunResults): Table | null {
  const methods = EXPERT_METHODS.filter((m) => hasMethod(results, m))
  if (methods.length === 0) return null
  const entries = [
    ...(hasMethod(results, 'sup-single') ? [{ method: 'sup-single', setting: FULL_LINEAR }] : []),
    ...methods.map((method) => ({ method, setting: TEN_PERCENT_LINEAR })),
  ]
  const groups: { label: string; span: number }[] = [{ label: '', span: 2 }]
  const head = ['Method', 'Data']
  const hasClassification = orderedTasks(results, 'classification').length > 0
  if (hasClassification) {
    groups.push({ label: 'seen: classification', span: 1 })
    head.push(CLS_AVG_HEAD)
  }
  const dense: [TaskType, string][] = [
    ['detection', 'seen: detection'],
    ['segmentation', 'seen: segmentation'],
    ['depth', 'unseen: depth'],
  ]
  for (const [type, label] of dense) {
    const cards = orderedTasks(results, type)
    if (cards.length === 0) continue
    groups.push({ label, span: cards.length })
    head.push(...cards.map(taskHead))
  }
  const rows = entries.map(({ method, setting }) => {
    const seen = PRETRAINED_TYPES[method] ?? []
    return [
      text(methodLabel(results, method)),
      text(percentLabel(setting.percent)),
      ...(hasClassification ? [averageCell(results, method, setting, seen.includes('classification'))] : []),
      ...dense.flatMap(([type]) =>
        orderedTasks(results, type).map((card) => metricCell(results, method, card, setting, seen.includes(type))),
      ),
    ]
  })
  return {
    id: 'experts',
    title: 'Tables 2-4: expert integration',
    caption:
      'Linear probe. Highlighted cells: the method was pretrained on that task type (its experts), so the others measure transfer. ' +
      'The supervised single-source baseline is shown with 100% of the data as the reference.',
    groups,
    head,
    rowHeaders: 2,
    rows,
    notes: directionNote(results),
  }
}

/** Table 6: the classification average at 10% after each upstream stage, and the gain over the previous one. */
export function stageGainsTable(results: RunResults): Table | null {
  if (!STAGE_METHODS.some(([, m]) => hasMethod(results, m)) || orderedTasks(results, 'classification').length === 0)
    return null
  let previous: number | null = null
  const rows = STAGE_METHODS.map(([stage, method], i) => {
    const stats = classificationAverage(results, method, TEN_PERCENT_LINEAR)
    const gain =
      i === 0
        ? ''
        : stats === null || previous === null
          ? MISSING
          : formatDifference(stats.mean - previous, CLS_AVG_METRIC)
    previous = stats?.mean ?? null
    return [
      text(stage),
      text(methodLabel(results, method)),
      averageCell(results, method, TEN_PERCENT_LINEAR),
      text(gain),
    ]
  })
  return {
    id: 'stage-gains',
    title: 'Table 6: stage gains',
    caption: `${CLS_AVG} at 10% (linear probe) after each upstream stage; gain = difference of means from the previous stage.`,
    head: ['Stage', 'Method', CLS_AVG_HEAD, 'Gain'],
    rowHeaders: 2,
    rows,
    notes: [],
  }
}

/** Every measured (method, protocol, percent, task): the metric, the task's extra metrics, seeds and time. */
export function allResultsTable(results: RunResults): Table {
  const rows: Cell[][] = []
  for (const method of methodIds(results)) {
    for (const protocol of ['linear', 'finetune', 'down-a'] as const) {
      for (const percent of settingsWithRows(results, method, protocol)) {
        for (const card of orderedTasks(results)) {
          const setting = { percent, protocol }
          const measured = cellRows(results, method, card.name, setting)
          if (measured.length === 0) continue
          const extras = card.extraMetrics.flatMap((metric) => {
            const values = measured.flatMap((r) => (metric in r.extra ? [r.extra[metric]] : []))
            return values.length === 0 ? [] : [`${metric} ${formatStats(meanStd(values), metric)}`]
          })
          rows.push([
            text(methodLabel(results, method)),
            text(protocolLabel(protocol)),
            text(percentLabel(percent)),
            text(card.name),
            text(`${card.metric} ${arrow(card.direction)}`),
            metricCell(results, method, card, setting),
            text(extras.join('; ') || MISSING),
            text(measured.map((r) => r.seed).join(', ')),
            text(formatDuration(measured.reduce((s, r) => s + r.seconds, 0))),
          ])
        }
      }
    }
  }
  return {
    id: 'all-results-table',
    title: '',
    caption:
      'Every measured cell: mean ± sample std over seeds (n seeds), the task’s extra metrics, the seeds and the total time.',
    head: ['Method', 'Protocol', 'Data', 'Task', 'Metric', 'Value', 'Extra metrics', 'Seeds', 'Time'],
    rowHeaders: 1,
    rows,
    notes: [],
  }
}

export function tasksTable(results: RunResults): Table {
  return {
    id: 'tasks-table',
    title: '',
    caption: 'The downstream tasks of this run.',
    head: ['Task', 'Type', 'Metric', 'Better', 'Train / test', 'Image size', 'Classes', 'Description'],
    rowHeaders: 1,
    rows: orderedTasks(results).map((c) =>
      [
        c.name,
        taskType(c),
        [c.metric, ...c.extraMetrics].join(', '),
        c.direction === 'higher' ? 'higher ↑' : 'lower ↓',
        `${c.sizes.train} / ${c.sizes.test}`,
        `${c.imageSize} px`,
        String(c.numClasses),
        c.description,
      ].map(text),
    ),
    notes: [],
  }
}

export function runFactsTable(results: RunResults): Table {
  const m = results.machine
  const wall =
    results.finishedAt === null ? null : (Date.parse(results.finishedAt) - Date.parse(results.startedAt)) / 1000
  const benchmarkSeconds = results.rows.reduce((s, r) => s + r.seconds, 0)
  const facts: [string, string][] = [
    ['Run', results.name],
    ['Status', results.finishedAt === null ? 'running: partial results' : 'finished'],
    ['Version', results.version],
    ['Preset', results.preset || MISSING],
    ['Seeds', results.seeds.join(', ') || MISSING],
    ['Started', results.startedAt],
    ['Finished', results.finishedAt ?? MISSING],
    ['Wall time', wall === null || !Number.isFinite(wall) ? MISSING : formatDuration(wall)],
    ['Benchmark time (sum over rows)', formatDuration(benchmarkSeconds)],
    ['Machine', `${m.cpu}, ${m.cores} cores, ${m.platform}`],
    ['Threads', String(m.threads)],
    ['Kernel set', m.kernelSet],
    ['Node', m.node],
  ]
  return {
    id: 'run-facts-table',
    title: '',
    caption: '',
    head: ['', ''],
    rowHeaders: 1,
    rows: facts.map(([k, v]) => [text(k), text(v)]),
    notes: [],
  }
}

export function stagesTable(results: RunResults): Table | null {
  if (results.stages.length === 0) return null
  return {
    id: 'stages',
    title: 'Upstream stages',
    caption: 'Wall time, steps and the last logged value of each loss term.',
    head: ['Stage', 'Kind', 'Steps', 'Wall time', 'Final losses'],
    rowHeaders: 1,
    rows: results.stages.map((s) =>
      [
        s.name,
        s.kind,
        String(s.steps),
        formatDuration(s.seconds),
        Object.entries(s.finalLosses)
          .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
          .join(', ') || MISSING,
      ].map(text),
    ),
    notes: [],
  }
}

/** The comparisons behind a claim, with their margins. */
export function claimTable(c: Claim): Table {
  return {
    id: `claim-${c.id}`,
    title: '',
    caption: '',
    head: ['On', 'A', 'B', 'Difference (A better: +)', 'Std. error', 'Test', 'Passes'],
    rowHeaders: 1,
    rows: c.comparisons.map((x) => [
      text(x.subject),
      text(`${x.a.label}, ${percentLabel(x.a.setting.percent)}: ${formatStats(x.a.stats, x.metric)}`),
      text(`${x.b.label}, ${percentLabel(x.b.setting.percent)}: ${formatStats(x.b.stats, x.metric)}`),
      text(x.difference === null ? MISSING : formatDifference(x.difference, x.metric)),
      text(x.standardError === null ? MISSING : formatValue(x.standardError, x.metric)),
      text(`A ${x.test} B`),
      text(x.verdict === null ? MISSING : x.verdict ? 'yes' : 'no'),
    ]),
    notes: [],
  }
}

function directionNote(results: RunResults): string[] {
  const lower = results.tasks.filter((c) => c.direction === 'lower').map((c) => `${c.name} (${c.metric})`)
  const notes = [
    '↑ higher is better, ↓ lower is better. RMSE in the depth maps’ unit (metres in GV-D); every other metric in percent.',
  ]
  if (lower.length > 0) notes.push(`Lower is better on: ${lower.join(', ')}.`)
  return notes
}

// The paper's claims, each decided from the rows of a run (never from stored numbers).
//
// Every claim is a set of comparisons "A beats B" or "A is not worse than B" on one task (or on
// the classification average) at a given percent, on the linear protocol. With d the difference
// of means in the task's favoured direction (d > 0: A is better) and se the combined standard
// error sqrt(sA^2/nA + sB^2/nB):
//   A beats B          when d > se
//   A not worse than B when d >= -se
// se needs two or more seeds on both sides; otherwise the comparison is decided on means alone
// (se taken as 0) and the claim says it was not tested against noise.
// A claim is decided as soon as its missing comparisons can no longer change the outcome, and is
// "not measured" until then.
import type { MetricName, RunResults } from '../results'
import type { TaskType } from '../tasks'
import {
  CLS_AVG,
  CLS_AVG_METRIC,
  FULL_LINEAR,
  TEN_PERCENT_LINEAR,
  cellStats,
  classificationAverage,
  methodLabel,
  orderedTasks,
  type Setting,
  type Stats,
} from './summary'

export type ClaimStatus = 'holds' | 'does not hold' | 'not measured'
export type Test = 'beats' | 'not worse than'

export interface Side {
  method: string
  label: string
  setting: Setting
  stats: Stats | null
}

export interface Comparison {
  /** A task name or CLS-AVG. */
  subject: string
  metric: MetricName
  direction: 'higher' | 'lower'
  test: Test
  a: Side
  b: Side
  /** Difference of means in the favoured direction (> 0: a is better); null when a side is missing. */
  difference: number | null
  /** Combined standard error; null with fewer than two seeds on a side. */
  standardError: number | null
  /** Whether the test passes; null when not measured. */
  verdict: boolean | null
}

export interface Claim {
  id: string
  statement: string
  /** How the comparisons decide the claim. */
  rule: string
  status: ClaimStatus
  comparisons: Comparison[]
  notes: string[]
}

export const CRITERION =
  "'A beats B': the difference of means in the metric's favoured direction exceeds the combined standard error " +
  "sqrt(sA²/nA + sB²/nB); 'A not worse than B': the difference is at least minus that standard error. " +
  'With one seed on either side the standard error is unknown and the comparison is decided on means alone.'

export function evaluateClaims(results: RunResults): Claim[] {
  const label = (id: string) => methodLabel(results, id)
  const side = (method: string, task: string | null, setting: Setting): Side => ({
    method,
    label: label(method),
    setting,
    stats: task === null ? classificationAverage(results, method, setting) : cellStats(results, method, task, setting),
  })
  const onTasks = (
    types: TaskType[],
    test: Test,
    a: string,
    b: string,
    settingA = TEN_PERCENT_LINEAR,
    settingB = TEN_PERCENT_LINEAR,
  ): Comparison[] =>
    types.flatMap((type) =>
      orderedTasks(results, type).map((card) =>
        compare(
          card.name,
          card.metric,
          card.direction,
          test,
          side(a, card.name, settingA),
          side(b, card.name, settingB),
        ),
      ),
    )
  const onAverage = (test: Test, a: string, b: string): Comparison =>
    compare(
      CLS_AVG,
      CLS_AVG_METRIC,
      'higher',
      test,
      side(a, null, TEN_PERCENT_LINEAR),
      side(b, null, TEN_PERCENT_LINEAR),
    )

  return [
    claim(
      'a',
      `${label('up-g-cds')} with 10% of the downstream data beats ${label('sup-single')} with 100% on most tasks.`,
      'majority',
      onTasks(
        ['classification', 'detection', 'segmentation', 'depth'],
        'beats',
        'up-g-cds',
        'sup-single',
        TEN_PERCENT_LINEAR,
        FULL_LINEAR,
      ),
    ),
    claim(
      'b',
      `Each upstream stage raises the classification average at 10%: ${label('up-a')} < ${label('up-e-c')} < ${label('up-g-cds')}.`,
      'all',
      [onAverage('beats', 'up-e-c', 'up-a'), onAverage('beats', 'up-g-cds', 'up-e-c')],
    ),
    claim(
      'c',
      `${label('up-g-cd')} keeps both experts' strengths: not worse than ${label('up-e-c')} on classification and than ${label('up-e-d')} on detection (10%).`,
      'all',
      [
        ...onTasks(['classification'], 'not worse than', 'up-g-cd', 'up-e-c'),
        ...onTasks(['detection'], 'not worse than', 'up-g-cd', 'up-e-d'),
      ],
    ),
    claim(
      'd',
      `Adding the S expert keeps C and D: ${label('up-g-cds')} is not worse than ${label('up-g-cd')} on classification and detection (10%).`,
      'all',
      onTasks(['classification', 'detection'], 'not worse than', 'up-g-cds', 'up-g-cd'),
    ),
    claim(
      'e',
      `Task types no expert of it saw gain: ${label('up-g-cd')} beats both ${label('up-e-c')} and ${label('up-e-d')} on segmentation and depth (10%).`,
      'all',
      [
        ...onTasks(['segmentation', 'depth'], 'beats', 'up-g-cd', 'up-e-c'),
        ...onTasks(['segmentation', 'depth'], 'beats', 'up-g-cd', 'up-e-d'),
      ],
    ),
  ]
}

export function compare(
  subject: string,
  metric: MetricName,
  direction: 'higher' | 'lower',
  test: Test,
  a: Side,
  b: Side,
): Comparison {
  const base = { subject, metric, direction, test, a, b }
  if (a.stats === null || b.stats === null) return { ...base, difference: null, standardError: null, verdict: null }
  const difference = (a.stats.mean - b.stats.mean) * (direction === 'higher' ? 1 : -1)
  const standardError =
    a.stats.std === null || b.stats.std === null
      ? null
      : Math.sqrt(a.stats.std ** 2 / a.stats.n + b.stats.std ** 2 / b.stats.n)
  const margin = standardError ?? 0
  const verdict = test === 'beats' ? difference > margin : difference >= -margin
  return { ...base, difference, standardError, verdict }
}

/** 'all': every comparison must pass; 'majority': more than half of them (one per task). */
function claim(id: string, statement: string, rule: 'all' | 'majority', comparisons: Comparison[]): Claim {
  const total = comparisons.length
  const measured = comparisons.filter((c) => c.verdict !== null)
  const passed = measured.filter((c) => c.verdict).length
  const failed = measured.length - passed
  let status: ClaimStatus = 'not measured'
  if (rule === 'all') {
    if (failed > 0) status = 'does not hold'
    else if (total > 0 && measured.length === total) status = 'holds'
  } else if (total > 0) {
    if (passed > total / 2) status = 'holds'
    else if (failed >= total / 2) status = 'does not hold'
  }
  const ruleText =
    rule === 'all'
      ? `every comparison must pass (${passed} of ${total} pass, ${failed} fail)`
      : `more than half of the ${total} tasks (${passed} pass, ${failed} fail)`
  const notes: string[] = []
  if (total === 0) notes.push('The run has no task of the types this claim is about.')
  else if (measured.length < total) {
    const missing = comparisons.filter((c) => c.verdict === null).map((c) => `${c.subject} (${missingSides(c)})`)
    notes.push(`${measured.length} of ${total} comparisons measured; missing: ${missing.join(', ')}.`)
  }
  if (measured.some((c) => c.standardError === null))
    notes.push('1 seed: not tested against noise (decided on means alone).')
  return { id, statement, rule: ruleText, status, comparisons, notes }
}

function missingSides(c: Comparison): string {
  const sides = [c.a, c.b].filter((s) => s.stats === null)
  return sides.map((s) => `${s.label} at ${s.setting.percent}%`).join(' and ') + ' not run'
}

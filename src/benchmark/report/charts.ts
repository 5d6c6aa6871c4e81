// The report's charts, as inline SVG strings: upstream loss curves, per-task bars at 10% and
// 100% per method (error bars: std over seeds), and the stage gains on the classification average.
import type { MetricName, RunResults } from '../results'
import { barChart, lineChart, type Bar } from './svg'
import {
  CLS_AVG,
  CLS_AVG_METRIC,
  FULL_LINEAR,
  STAGE_METHODS,
  TEN_PERCENT_LINEAR,
  cellStats,
  classificationAverage,
  formatStats,
  isPercentMetric,
  methodIds,
  methodLabel,
  orderedTasks,
  type Stats,
} from './summary'

export interface Chart {
  title: string
  svg: string
}

function bar(stats: Stats | null, metric: MetricName): Bar | null {
  if (stats === null) return null
  const scale = isPercentMetric(metric) ? 100 : 1
  return {
    value: stats.mean * scale,
    error: stats.std === null ? null : stats.std * scale,
    text: formatStats(stats, metric),
  }
}

export function lossCharts(results: RunResults): Chart[] {
  return results.stages
    .filter((s) => s.curve.length > 0)
    .map((s, i) => {
      const title = `${s.name} (${s.kind}): training loss`
      return {
        title,
        svg: lineChart({
          id: `loss-${i}`,
          title,
          xLabel: 'step',
          yLabel: 'loss',
          series: [{ label: s.name, points: s.curve.map((p) => [p.step, p.loss]) }],
        }),
      }
    })
}

/** One chart per task: a group per method with linear-probe rows, bars for 10% and 100%. */
export function taskCharts(results: RunResults): Chart[] {
  const settings = [TEN_PERCENT_LINEAR, FULL_LINEAR]
  return orderedTasks(results).flatMap((card, i) => {
    const groups = methodIds(results)
      .map((method) => ({
        label: methodLabel(results, method),
        bars: settings.map((s) => bar(cellStats(results, method, card.name, s), card.metric)),
      }))
      .filter((g) => g.bars.some((b) => b !== null))
    if (groups.length === 0) return []
    const better = card.direction === 'higher' ? 'higher is better' : 'lower is better'
    const title = `${card.name}: ${card.metric} (${better})`
    const axisLabel = isPercentMetric(card.metric) ? `${card.metric} (%)` : card.metric
    return [
      {
        title,
        svg: barChart({ id: `task-${i}`, title, axisLabel, series: ['10% of the training data', '100%'], groups }),
      },
    ]
  })
}

/** CLS-AVG at 10% after each upstream stage (absent when no stage method has it). */
export function stageGainsChart(results: RunResults): Chart | null {
  const groups = STAGE_METHODS.map(([stage, method]) => ({
    label: stage,
    bars: [bar(classificationAverage(results, method, TEN_PERCENT_LINEAR), CLS_AVG_METRIC)],
  }))
  if (groups.every((g) => g.bars[0] === null)) return null
  const title = `Stage gains: ${CLS_AVG} at 10% (higher is better)`
  return {
    title,
    svg: barChart({
      id: 'stage-gains-chart',
      title,
      axisLabel: `${CLS_AVG} (%)`,
      series: ['10%, linear probe'],
      groups,
    }),
  }
}

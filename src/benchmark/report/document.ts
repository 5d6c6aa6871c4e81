// The report's content as a list of blocks, in order; markdown.ts and html.ts only render it.
import type { RunResults } from '../results'
import { lossCharts, stageGainsChart, taskCharts, type Chart } from './charts'
import { CRITERION, evaluateClaims, type Claim } from './claims'
import {
  allResultsTable,
  claimTable,
  expertTable,
  fineTuneTable,
  runFactsTable,
  stageGainsTable,
  stagesTable,
  table1,
  tasksTable,
  type Table,
} from './tables'

export type Block =
  | { type: 'heading'; level: 1 | 2; text: string; id: string }
  | { type: 'paragraph'; text: string; warning?: boolean }
  | { type: 'table'; table: Table }
  | { type: 'claim'; claim: Claim; table: Table }
  | { type: 'charts'; charts: Chart[] }

export function reportTitle(results: RunResults): string {
  return `GV-B report: ${results.name}`
}

export function buildDocument(results: RunResults): Block[] {
  const blocks: Block[] = [{ type: 'heading', level: 1, text: reportTitle(results), id: 'top' }]
  if (results.finishedAt === null) {
    blocks.push({
      type: 'paragraph',
      text: 'The run is still going: these are partial results, and cells not measured yet read –.',
      warning: true,
    })
  }
  const section = (text: string, id: string) => blocks.push({ type: 'heading', level: 2, text, id })
  const table = (t: Table | null) => {
    if (t !== null) blocks.push({ type: 'table', table: t })
  }
  const charts = (list: (Chart | null)[]) => {
    const present = list.filter((c): c is Chart => c !== null)
    if (present.length > 0) blocks.push({ type: 'charts', charts: present })
  }

  section('Run facts', 'run-facts')
  table(runFactsTable(results))
  table(stagesTable(results))

  section("The paper's claims", 'claims')
  blocks.push({
    type: 'paragraph',
    text: `Each claim is decided from the rows of this run (linear probe). ${CRITERION}`,
  })
  for (const claim of evaluateClaims(results)) blocks.push({ type: 'claim', claim, table: claimTable(claim) })

  section('Results', 'results')
  table(table1(results))
  table(expertTable(results))
  table(stageGainsTable(results))
  charts([stageGainsChart(results)])
  table(fineTuneTable(results))

  const perTask = taskCharts(results)
  if (perTask.length > 0) {
    section('Per-task results at 10% and 100%', 'task-charts')
    blocks.push({
      type: 'paragraph',
      text: 'Linear probe; bars are means over seeds, error bars one sample standard deviation.',
    })
    charts(perTask)
  }
  const losses = lossCharts(results)
  if (losses.length > 0) {
    section('Upstream training curves', 'loss-curves')
    charts(losses)
  }

  section('Tasks', 'tasks')
  table(tasksTable(results))
  section('All results', 'all-results')
  table(allResultsTable(results))
  return blocks
}

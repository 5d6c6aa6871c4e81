// writeReport: results.json, report.md and report.html into a folder, each replaced atomically,
// so a reader (or a run killed mid-write) never sees a half-written file. The runner calls it after
// every finished task, so it renders partial results.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { atomicWrite } from '../../io/atomic'
import { validateResults, type RunResults } from '../results'
import { renderHtml } from './html'
import { renderMarkdown } from './markdown'

export const REPORT_FILES = { results: 'results.json', markdown: 'report.md', html: 'report.html' } as const

/** Validates `results` (a clear error, and nothing written, when a field is wrong) and writes the three files. */
export function writeReport(dir: string, results: RunResults): void {
  validateResults(results, 'writeReport: results')
  const files: [string, string][] = [
    [REPORT_FILES.results, JSON.stringify(results, null, 2) + '\n'],
    [REPORT_FILES.markdown, renderMarkdown(results)],
    [REPORT_FILES.html, renderHtml(results)],
  ]
  fs.mkdirSync(dir, { recursive: true })
  for (const [name, text] of files) atomicWrite(path.join(dir, name), (write) => write(Buffer.from(text, 'utf8')))
}

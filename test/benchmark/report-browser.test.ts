// report.html in a real browser (Debian's headless chromium through playwright-core): it loads
// with no console errors and no requests beyond the file itself, and every measured table cell
// reads the mean ± std (n) computed here, independently, from the written results.json.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import t from 'tap'
import { chromium } from 'playwright-core'
import { writeReport } from '../../src/benchmark/report'
import type { ResultRow, RunResults } from '../../src/benchmark/results'
import { partialRun } from './report-fixture'

const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = path.join(os.tmpdir(), 'intern-vision-report.png')

/** The cell text for a list of per-seed values, written out here rather than taken from the report code. */
function expectedText(values: number[], metric: string): string {
  const n = values.length
  const mean = values.reduce((s, v) => s + v, 0) / n
  const fmt = (v: number) => (metric === 'rmse' ? v.toFixed(3) : (100 * v).toFixed(1))
  if (n === 1) return `${fmt(mean)} (n=1)`
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1))
  return `${fmt(mean)} ± ${fmt(std)} (n=${n})`
}

function expectedCell(
  results: RunResults,
  key: { method: string; task: string; percent: number; protocol: string },
): string {
  const match = (r: ResultRow, task: string) =>
    r.method === key.method && r.task === task && r.percent === key.percent && r.protocol === key.protocol
  if (key.task !== 'CLS-AVG') {
    const values = results.rows.filter((r) => match(r, key.task)).map((r) => r.value)
    const metric = results.tasks.find((c) => c.name === key.task)?.metric as string
    return values.length === 0 ? '–' : expectedText(values, metric)
  }
  const classification = results.tasks
    .filter((c) => c.metric === 'top1' || c.metric === 'meanPerClassAccuracy')
    .map((c) => c.name)
  const averages = results.seeds.flatMap((seed) => {
    const values = classification.flatMap((task) =>
      results.rows.filter((r) => match(r, task) && r.seed === seed).map((r) => r.value),
    )
    return values.length === classification.length ? [values.reduce((s, v) => s + v, 0) / values.length] : []
  })
  return averages.length === 0 ? '–' : expectedText(averages, 'top1')
}

t.test(
  'report.html in headless chromium',
  { skip: fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent (apt-get install chromium)` },
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-report-'))
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
    writeReport(dir, partialRun())
    const file = path.join(dir, 'report.html')
    const html = fs.readFileSync(file, 'utf8')
    t.notMatch(html, /<script/i, 'no scripts')
    t.same(
      [...new Set(html.match(/\bhttps?:\/\/[^\s"'<>)]+/g))],
      ['http://www.w3.org/2000/svg'],
      'no address but the SVG namespace',
    )

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
    t.teardown(() => browser.close())
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems: string[] = []
    const requests: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`)
    })
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`))
    page.on('request', (r) => requests.push(r.url()))
    await page.goto(`file://${file}`, { waitUntil: 'load' })

    t.same(problems, [], 'no console errors, page errors or failed requests')
    t.same(requests, [`file://${file}`], 'the page requests nothing but itself')

    const results = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as RunResults
    const cells = await page.$$eval('td[data-task]', (tds) =>
      tds.map((td) => {
        const d = (td as unknown as { dataset: Record<string, string | undefined> }).dataset
        return {
          method: d.method as string,
          task: d.task as string,
          percent: Number(d.percent),
          protocol: d.protocol as string,
          text: (td.textContent ?? '').trim(),
        }
      }),
    )
    let wrong = 0
    for (const c of cells) {
      const expected = expectedCell(results, c)
      if (c.text !== expected) {
        wrong++
        t.equal(c.text, expected, `${c.method} / ${c.task} / ${c.percent}% / ${c.protocol}`)
      }
    }
    t.equal(wrong, 0, `all ${cells.length} measured cells equal the numbers formatted from results.json`)
    const shown = new Set(
      cells.filter((c) => c.text !== '–').map((c) => JSON.stringify([c.method, c.task, c.percent, c.protocol])),
    )
    const measured = new Set(results.rows.map((r) => JSON.stringify([r.method, r.task, r.percent, r.protocol])))
    t.same(
      [...measured].filter((k) => !shown.has(k)),
      [],
      'every measured cell is shown',
    )
    t.ok(
      cells.some((c) => c.text === '–'),
      'cells not measured yet read –',
    )

    t.equal(await page.locator('article.claim').count(), 5, 'five claims')
    t.equal(await page.locator('svg[role=img]').count(), 6 + 2 + 1, 'charts: six tasks, two loss curves, stage gains')
    t.equal(await page.title(), 'GV-B report: crafted <partial> & run', 'the title is escaped, not interpreted')
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    t.ok(fs.statSync(SCREENSHOT).size > 0, `screenshot at ${SCREENSHOT}`)
  },
)

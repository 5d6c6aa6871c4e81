// The measured comparison through `intern-vision search compare`: one row per (model, seed), the
// proxy score reproducible from the proxy alone, and the summary the mean and sample std of the rows.
import t from 'tap'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { searchCommand } from '../../src/cli/search'
import { metaNetConfig } from '../../src/models/metanet/config'
import { ProxyTask, summarize, type Comparison } from '../../src/search'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-compare-'))
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))

t.test('summarize: mean and sample standard deviation', async (t) => {
  t.same(summarize([1, 2, 3, 6]), { mean: 3, std: Math.sqrt((4 + 1 + 0 + 9) / 3) })
  t.same(summarize([0.5]), { mean: 0.5, std: 0 })
})

t.test('search compare: rows, summary and a reproducible proxy score', async (t) => {
  const narrow = path.join(dir, 'narrow.json')
  const config = metaNetConfig('mn-t', { name: 'narrow', headWidth: 128 })
  fs.writeFileSync(narrow, JSON.stringify({ config }))
  const proxy = { steps: 3, trainSize: 32, valSize: 16, batchSize: 8 }
  const log = console.log
  const printed: string[] = []
  console.log = (m: string) => printed.push(m)
  let code: number
  try {
    code = await searchCommand([
      'compare',
      '--models',
      `mn-t,${narrow}`,
      '--seeds',
      '0,1',
      '--proxy-steps',
      '3',
      '--train-size',
      '32',
      '--val-size',
      '16',
      '--batch-size',
      '8',
      '--out',
      dir,
    ])
  } finally {
    console.log = log
  }
  t.equal(code, 0)
  const c = JSON.parse(fs.readFileSync(path.join(dir, 'compare.json'), 'utf8')) as Comparison
  t.same(
    c.rows.map((r) => `${r.model}/${r.seed}`),
    ['mn-t/0', 'narrow/0', 'mn-t/1', 'narrow/1'],
  )
  for (const m of c.models) {
    const mine = c.rows.filter((r) => r.model === m.model)
    t.same(m.proxy, summarize(mine.map((r) => r.proxyAccuracy)), `${m.model}: proxy summary`)
    t.same(
      m.tasks['world-sketch-shape'],
      summarize(mine.map((r) => r.tasks['world-sketch-shape'])),
      `${m.model}: task summary`,
    )
    for (const r of mine) t.ok(r.tasks['world-sketch-shape'] >= 0 && r.tasks['world-sketch-shape'] <= 1)
  }
  t.same(c.tasks, { 'world-sketch-shape': 'top1' })
  const task = new ProxyTask(proxy)
  const { model } = await task.train({ ...config, numClasses: task.numClasses }, { seed: 1 })
  t.equal(
    await task.evaluate(model),
    c.rows[3].proxyAccuracy,
    'narrow seed 1 proxy accuracy reproduced by ProxyTask alone',
  )
  t.match(printed.join('\n'), /\| mn-t \| 0\.\d{3}M \|/, 'a markdown table is printed')
})

// The whole INTERN pipeline on its 'tiny' preset: killed with SIGKILL after its first stage and
// started again, it continues (the finished stage is not retrained) and ends with every row the
// preset asks for, a valid results.json and the report. The numbers themselves mean nothing at
// this size; what is tested is that every unit runs, resumes and lands in the report.
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import t from 'tap'
import { readResults, rowKey } from '../../src/benchmark/results'
import { baselineSteps, getPipelinePreset, METHODS } from '../../src/intern/pipeline'
import { getPreset } from '../../src/intern/presets'
import { readStageCard } from '../../src/intern/stage-io'

const repo = path.resolve(__dirname, '..', '..')
const child = path.join(__dirname, 'pipeline-child.ts')

function run(
  out: string,
  killWhen?: () => boolean,
): Promise<{ code: number | null; signal: string | null; output: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, out], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    proc.stdout.on('data', (d) => (output += d))
    proc.stderr.on('data', (d) => (output += d))
    const timer = killWhen && setInterval(() => killWhen() && proc.kill('SIGKILL'), 100)
    proc.on('exit', (code, signal) => {
      if (timer) clearInterval(timer)
      resolve({ code, signal, output })
    })
  })
}

t.test('the tiny pipeline survives SIGKILL and ends with every row and the report', async (t) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-pipeline-'))
  t.teardown(() => fs.rmSync(out, { recursive: true, force: true }))
  const amateurCard = path.join(out, 'stages', 'amateur', 'card.json')
  const first = await run(out, () => fs.existsSync(amateurCard))
  t.equal(first.signal, 'SIGKILL', `the first run was killed after Up-A (${first.output.trim().split('\n').pop()})`)
  const created = readStageCard(path.dirname(amateurCard)).createdAt
  // The kill may land between the card and the stage's summary in results.json; make sure it
  // did, so that the second run must notice a trained stage that was never summarised.
  const resultsFile = path.join(out, 'results.json')
  if (fs.existsSync(resultsFile)) fs.rmSync(resultsFile)

  const second = await run(out)
  t.equal(second.code, 0, second.output)
  t.match(
    second.output,
    /\[1\/10\] stage amateur\n {2}amateur finished training before the last stop: recording its summary/,
    'the trained stage is only summarised',
  )
  t.equal(readStageCard(path.dirname(amateurCard)).createdAt, created, 'and not retrained')

  const p = getPipelinePreset('tiny')
  for (const m of METHODS.filter((m) => m.stage))
    t.ok(fs.existsSync(path.join(out, 'stages', m.stage!, 'card.json')), `stage ${m.stage} finished`)
  const results = readResults(path.join(out, 'results.json'))
  const keys = new Set(results.rows.map(rowKey))
  const expected = [
    ...METHODS.flatMap((m) =>
      p.tasks.map((task) => ({ method: m.id, task, percent: 10, protocol: 'linear' as const, seed: 0 })),
    ),
    ...p.fullDataMethods.flatMap((method) =>
      p.tasks.map((task) => ({ method, task, percent: 100, protocol: 'linear' as const, seed: 0 })),
    ),
    ...p.tasks.map((task) => ({ method: 'up-g-cds', task, percent: 10, protocol: 'down-a' as const, seed: 0 })),
  ]
  for (const k of expected) t.ok(keys.has(rowKey(k)), `row ${rowKey(k)}`)
  t.equal(results.rows.length, expected.length, 'and no other rows')
  t.ok(results.finishedAt, 'the run is marked finished')
  t.same(
    results.stages.map((s) => s.name).sort(),
    METHODS.filter((m) => m.stage)
      .map((m) => m.stage)
      .sort(),
    'every stage is summarised',
  )
  for (const s of results.stages) t.ok(s.curve.length > 0, `${s.name} has a loss curve`)
  const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8')
  t.match(html, /Up-G \(C-D-S\)/, 'the report names the generalist')
  t.ok(fs.existsSync(path.join(out, 'report.md')))
})

t.test('baselines get the upstream images of the generalist main branch', async (t) => {
  const p = getPreset('cpu-quick')
  const images =
    p.amateur.steps * p.amateur.batchSize +
    p.experts.C.steps * p.experts.C.batchSize +
    p.generalist.steps * p.generalist.batchSize
  t.equal(baselineSteps(p, 32) * 32, images)
})

t.test('bad presets and methods are refused by name', async (t) => {
  t.throws(
    () => getPipelinePreset('cpu-huge'),
    /unknown pipeline preset 'cpu-huge'; known: cpu-default, cpu-full, tiny/,
  )
})

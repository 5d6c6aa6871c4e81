// The search end to end through the CLI: every output written and consistent, the best config
// loadable as a model, resume after kill -9 without duplicates and with the trial the killed run
// would have made, and clear errors for bad input.
import t from 'tap'
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as iv from '../../src'
import { searchCommand } from '../../src/cli/search'
import { metaNetConfig } from '../../src/models/metanet/config'
import {
  FILES,
  ProxyTask,
  analyticCost,
  paretoFront,
  proposeTrial,
  readTrials,
  type SearchSettings,
} from '../../src/search'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-search-'))
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))

// A proxy small enough for a test: 16 px, a few images and steps.
const PROXY = [
  '--image-size',
  '16',
  '--train-size',
  '32',
  '--val-size',
  '16',
  '--batch-size',
  '8',
  '--latency-repeats',
  '1',
]

async function quiet<T>(fn: () => Promise<T>): Promise<T> {
  const log = console.log
  console.log = () => {}
  try {
    return await fn()
  } finally {
    console.log = log
  }
}

const lines = (out: string): string[] =>
  fs.readFileSync(path.join(out, FILES.trials), 'utf8').split('\n').filter(Boolean)

t.test('a 2-trial search writes trials, Pareto fronts, a chart and a loadable best config', async (t) => {
  const out = path.join(dir, 'cli')
  const cli = (trials: number, strategy = 'evolution') => [
    '--trials',
    String(trials),
    '--strategy',
    strategy,
    '--proxy-steps',
    '2',
    '--budget-flops',
    'mn-t',
    '--out',
    out,
    ...PROXY,
  ]
  t.equal(await quiet(() => searchCommand(cli(2))), 0)
  const trials = readTrials(out)
  t.equal(trials.length, 2)
  const budget = analyticCost({ ...metaNetConfig('mn-t'), numClasses: new ProxyTask().numClasses }, 16).macs
  const settings = JSON.parse(fs.readFileSync(path.join(out, FILES.settings), 'utf8')) as SearchSettings
  t.equal(settings.budgetFlops, budget, "--budget-flops mn-t is mn-t's MACs at the proxy size")
  for (const trial of trials) {
    t.ok(trial.flops <= budget, `trial ${trial.index} within the budget`)
    t.equal(trial.flops, analyticCost(trial.config, 16).macs, "recorded FLOPs are the config's")
    t.ok(trial.score >= 0 && trial.score <= 1 && trial.latencyMs > 0)
  }
  t.not(trials[0].key, trials[1].key, 'two different networks')
  const pareto = JSON.parse(fs.readFileSync(path.join(out, FILES.pareto), 'utf8'))
  t.same(
    pareto.flops.map((p: { trial: number }) => p.trial),
    paretoFront(trials.map((x) => ({ id: x.index, cost: x.flops, score: x.score }))).map((p) => p.id),
  )
  t.match(fs.readFileSync(path.join(out, FILES.chart), 'utf8'), /<svg[\s\S]*score against latency/)
  const best = JSON.parse(fs.readFileSync(path.join(out, FILES.best), 'utf8'))
  const top = trials.reduce((a, b) => (b.score > a.score || (b.score === a.score && b.flops < a.flops) ? b : a))
  t.equal(best.trial, top.index, 'best.json holds the best trial')
  const model = iv.createModel(path.join(out, FILES.best), { numClasses: 5 })
  const y = iv.noGrad(() => model.eval().forward(iv.rand([1, 3, 16, 16])) as iv.Tensor)
  t.same(y.shape, [1, 5], 'best.json loads as a model')

  // Rerunning a finished search runs nothing; a larger --trials extends it.
  const before = lines(out)
  t.equal(await quiet(() => searchCommand(cli(2))), 0)
  t.same(lines(out), before, 'a rerun leaves the trials as they were')
  t.equal(await quiet(() => searchCommand(cli(3))), 0)
  const extended = lines(out)
  t.equal(extended.length, 3)
  t.same(extended.slice(0, 2), before, 'extending keeps the earlier trials')

  // Another strategy in the same folder is refused, naming the setting.
  await t.rejects(
    quiet(() => searchCommand(cli(3, 'rl'))),
    /holds a search with another strategy \("evolution", now "rl"\)/,
  )
})

t.test('kill -9 mid-search, rerun: no duplicates, and the trials an uninterrupted run would make', async (t) => {
  const out = path.join(dir, 'killed')
  const args = [
    'test/search/search-child.ts',
    '--trials',
    '2',
    '--strategy',
    'rl',
    '--proxy-steps',
    '12',
    '--out',
    out,
    ...PROXY,
  ]
  const run = (killAfterFirst: boolean): Promise<{ code: number | null; signal: string | null; linesAtKill: number }> =>
    new Promise((resolve) => {
      const child = spawn('npx', ['tsx', ...args], { cwd: path.join(__dirname, '..', '..'), stdio: 'ignore' })
      let linesAtKill = -1
      const poll = killAfterFirst
        ? setInterval(() => {
            if (fs.existsSync(path.join(out, FILES.trials)) && lines(out).length >= 1) {
              linesAtKill = lines(out).length
              child.kill('SIGKILL')
              clearInterval(poll!)
            }
          }, 20)
        : null
      child.on('exit', (code, signal) => {
        if (poll) clearInterval(poll)
        resolve({ code, signal, linesAtKill })
      })
    })
  const killed = await run(true)
  t.equal(killed.signal, 'SIGKILL', 'the first run was killed')
  t.equal(killed.linesAtKill, 1, 'killed after the first trial was saved, before the second')
  const saved = lines(out)
  const rerun = await run(false)
  t.equal(rerun.code, 0, 'the rerun finishes')
  const after = lines(out)
  t.equal(after.length, 2)
  t.same(after.slice(0, saved.length), saved, 'the saved trial is kept as it was')
  const trials = readTrials(out)
  t.same(
    trials.map((x) => x.index),
    [0, 1],
    'one line per trial, in order',
  )
  t.equal(new Set(trials.map((x) => x.key)).size, 2, 'no network twice')
  const settings = JSON.parse(fs.readFileSync(path.join(out, FILES.settings), 'utf8')) as SearchSettings
  for (let i = 0; i < 2; i++)
    t.same(
      trials[i].genome,
      proposeTrial(settings, trials.slice(0, i)),
      `trial ${i} is what the strategy proposes after trials 0..${i - 1}`,
    )
})

t.test('bad command lines exit 2 with the reason', async (t) => {
  const errors: string[] = []
  const error = console.error
  console.error = (m: string) => errors.push(m)
  try {
    t.equal(await searchCommand(['--out', path.join(dir, 'x')]), 2)
    t.match(errors.pop(), /--trials is required/)
    t.equal(await searchCommand(['--trials', '2', '--out', path.join(dir, 'x'), '--strategy', 'annealing']), 2)
    t.match(errors.pop(), /--strategy must be one of random, evolution, rl, got 'annealing'/)
    t.equal(await searchCommand(['--trials', '2', '--out', path.join(dir, 'x'), '--budget-flops', 'lots']), 2)
    t.match(errors.pop(), /--budget-flops must be a number, a zoo MetaNet/)
    t.equal(await searchCommand(['--trials', '2', '--out', path.join(dir, 'x'), '--bogus']), 2)
    t.match(errors.pop(), /Unknown option '--bogus'/)
  } finally {
    console.error = error
  }
  await t.rejects(
    quiet(() => searchCommand(['--trials', '1', '--out', path.join(dir, 'y'), '--budget-flops', '10', ...PROXY])),
    /no feasible genome in 10000 draws/,
  )
})

// The results schema and the report: summary math on hand cases, each claim where it holds, where
// it does not and where data is missing, Markdown that carries the numbers, atomic writing,
// merging and validation.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import t, { type Test } from 'tap'
import {
  compare,
  evaluateClaims,
  formatStats,
  meanStd,
  renderMarkdown,
  writeReport,
  type Claim,
} from '../../src/benchmark/report'
import { classificationAverage, cellStats, formatDifference } from '../../src/benchmark/report/summary'
import { mergeResults, readResults, type ResultRow, type RunResults } from '../../src/benchmark/results'
import { TASKS, card, partialRun, row, run, seeds } from './report-fixture'

const close = (a: number, b: number, eps = 1e-12) => Math.abs(a - b) <= eps
const tmp = (t: Test): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-report-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('summary math: mean, sample std and n', async (t) => {
  const s = meanStd([1, 2, 3, 4])
  t.equal(s.mean, 2.5)
  t.ok(close(s.std as number, Math.sqrt(5 / 3)), 'sample std divides by n - 1: sqrt(5/3)')
  t.equal(s.n, 4)
  t.same(meanStd([0.7]), { mean: 0.7, std: null, n: 1 }, 'one seed: no std')
  t.throws(() => meanStd([]), /meanStd: no values/)

  t.equal(formatStats({ mean: 0.74312, std: 0.0042, n: 3 }, 'top1'), '74.3 ± 0.4 (n=3)')
  t.equal(formatStats({ mean: 0.84217, std: null, n: 1 }, 'rmse'), '0.842 (n=1)')
  t.equal(formatStats(null, 'miou'), '–')
  t.equal(formatDifference(0.013, 'top1'), '+1.3 pp')
  t.equal(formatDifference(-0.0423, 'rmse'), '-0.042')

  // cls-a seeds 0,1,2; cls-b seeds 0,1 only: the average uses seeds 0 and 1
  const r = run(
    [TASKS.clsA, TASKS.clsB, TASKS.det],
    [...seeds('m', 'cls-a', 10, [0.5, 0.7, 0.9]), ...seeds('m', 'cls-b', 10, [0.1, 0.3]), row('m', 'det', 10, 0, 0.4)],
  )
  const avg = classificationAverage(r, 'm', { percent: 10, protocol: 'linear' })
  t.ok(
    avg !== null && close(avg.mean, (0.3 + 0.5) / 2) && close(avg.std as number, Math.SQRT1_2 * 0.2) && avg.n === 2,
    `CLS-AVG over complete seeds: ${JSON.stringify(avg)}`,
  )
  t.equal(classificationAverage(r, 'm', { percent: 100, protocol: 'linear' }), null, 'nothing at 100%')
  t.equal(
    classificationAverage(run([TASKS.det], []), 'm', { percent: 10, protocol: 'linear' }),
    null,
    'no classification task',
  )
  t.same(cellStats(r, 'm', 'det', { percent: 10, protocol: 'linear' }), { mean: 0.4, std: null, n: 1 })
  t.equal(cellStats(r, 'm', 'det', { percent: 10, protocol: 'finetune' }), null, 'protocols are kept apart')
})

t.test('comparisons: beats and not worse than, direction-aware, with the standard error', async (t) => {
  const side = (mean: number, std: number | null, n: number) => ({
    method: 'x',
    label: 'x',
    setting: { percent: 10, protocol: 'linear' as const },
    stats: { mean, std, n },
  })
  // SE = sqrt(0.03^2/3 + 0.04^2/3) = sqrt(0.0025/3)
  const se = Math.sqrt(0.0025 / 3)
  const within = compare('t', 'top1', 'higher', 'beats', side(0.52, 0.03, 3), side(0.5, 0.04, 3))
  t.ok(close(within.standardError as number, se) && close(within.difference as number, 0.02), 'difference and SE')
  t.equal(within.verdict, false, 'a 0.02 lead is inside the SE of 0.029: not a win')
  t.equal(
    compare('t', 'top1', 'higher', 'not worse than', side(0.48, 0.03, 3), side(0.5, 0.04, 3)).verdict,
    true,
    '0.02 behind within SE: not worse',
  )
  t.equal(
    compare('t', 'top1', 'higher', 'not worse than', side(0.45, 0.03, 3), side(0.5, 0.04, 3)).verdict,
    false,
    '0.05 behind: worse',
  )
  t.equal(
    compare('t', 'rmse', 'lower', 'beats', side(2.0, 0.01, 3), side(2.5, 0.01, 3)).difference,
    0.5,
    'lower is better: a smaller RMSE is a positive difference',
  )
  const oneSeed = compare('t', 'top1', 'higher', 'beats', side(0.51, null, 1), side(0.5, 0.04, 3))
  t.ok(oneSeed.standardError === null && oneSeed.verdict === true, 'one seed: decided on means')
})

const claimOf = (r: RunResults, id: string): Claim => evaluateClaims(r).find((c) => c.id === id) as Claim
const ALL = [TASKS.clsA, TASKS.clsB, TASKS.det, TASKS.seg, TASKS.depth]
const three = (m: number) => [m - 0.01, m, m + 0.01]

t.test('claim (a): Up-G at 10% beats single-source supervised at 100% on most tasks', async (t) => {
  const sup = ALL.flatMap((c) => seeds('sup-single', c.name, 100, three(c.metric === 'rmse' ? 2 : 0.6)))
  // up-g-cds wins on cls-a, cls-b and depth (lower RMSE), loses on det and seg
  const wins = { 'cls-a': 0.7, 'cls-b': 0.7, det: 0.5, seg: 0.5, depth: 1.5 } as Record<string, number>
  const upg = ALL.flatMap((c) => seeds('up-g-cds', c.name, 10, three(wins[c.name])))
  const holds = claimOf(run(ALL, [...sup, ...upg]), 'a')
  t.equal(holds.status, 'holds', holds.rule)
  t.equal(holds.comparisons.filter((c) => c.verdict).length, 3)
  t.same(holds.notes, [], 'three seeds on every side: no noise note')

  const loses: Record<string, number> = { ...wins, 'cls-b': 0.5 }
  const upgLoses = ALL.flatMap((c) => seeds('up-g-cds', c.name, 10, three(loses[c.name])))
  t.equal(claimOf(run(ALL, [...sup, ...upgLoses]), 'a').status, 'does not hold', '2 of 5')

  const partial = claimOf(run(ALL, [...sup, ...upg.filter((r) => r.task === 'cls-a' || r.task === 'cls-b')]), 'a')
  t.equal(partial.status, 'not measured', '2 wins with 3 tasks missing could still go either way')
  t.match(partial.notes[0], /2 of 5 comparisons measured; missing: det \(.*not run\)/)
  t.equal(
    claimOf(run(ALL, [...sup, ...upg.filter((r) => r.task !== 'seg' && r.task !== 'det')]), 'a').status,
    'holds',
    '3 wins decide it even with 2 missing',
  )
})

t.test('claim (b): Up-A < Up-E < Up-G on the classification average', async (t) => {
  const cls = [TASKS.clsA, TASKS.clsB]
  const at = (method: string, m: number) => cls.flatMap((c) => seeds(method, c.name, 10, three(m)))
  t.equal(claimOf(run(cls, [...at('up-a', 0.6), ...at('up-e-c', 0.65), ...at('up-g-cds', 0.7)]), 'b').status, 'holds')
  t.equal(
    claimOf(run(cls, [...at('up-a', 0.6), ...at('up-e-c', 0.65), ...at('up-g-cds', 0.64)]), 'b').status,
    'does not hold',
    'Up-G below Up-E',
  )
  const noise = claimOf(run(cls, [...at('up-a', 0.6), ...at('up-e-c', 0.65), ...at('up-g-cds', 0.655)]), 'b')
  t.equal(noise.status, 'does not hold', 'a lead smaller than the standard error is not a gain')
  t.equal(claimOf(run(cls, [...at('up-a', 0.6), ...at('up-g-cds', 0.7)]), 'b').status, 'not measured', 'no Up-E rows')
  t.equal(
    claimOf(run(cls, [...at('up-a', 0.6), ...at('up-e-c', 0.55)]), 'b').status,
    'does not hold',
    'one failed step decides it',
  )
  const single = claimOf(
    run(cls, [
      ...cls.flatMap((c) => [
        row('up-a', c.name, 10, 0, 0.6),
        row('up-e-c', c.name, 10, 0, 0.61),
        row('up-g-cds', c.name, 10, 0, 0.62),
      ]),
    ]),
    'b',
  )
  t.equal(single.status, 'holds', 'one seed: decided on means')
  t.ok(single.notes.includes('1 seed: not tested against noise (decided on means alone).'))
})

t.test('claim (c): Up-G (C-D) keeps both experts', async (t) => {
  const tasks = [TASKS.clsA, TASKS.det, TASKS.depth]
  const base = [...seeds('up-e-c', 'cls-a', 10, three(0.7)), ...seeds('up-e-d', 'det', 10, three(0.5))]
  const holds = claimOf(
    run(tasks, [...base, ...seeds('up-g-cd', 'cls-a', 10, three(0.695)), ...seeds('up-g-cd', 'det', 10, three(0.55))]),
    'c',
  )
  t.equal(holds.status, 'holds', '0.5 pp behind on cls-a is within the standard error (0.8 pp)')
  t.equal(holds.comparisons.length, 2, 'depth is not part of it')
  t.ok(close(holds.comparisons[0].difference as number, -0.005, 1e-12), 'the margin is shown')
  t.equal(
    claimOf(
      run(tasks, [...base, ...seeds('up-g-cd', 'cls-a', 10, three(0.68)), ...seeds('up-g-cd', 'det', 10, three(0.55))]),
      'c',
    ).status,
    'does not hold',
    '2 pp behind',
  )
  t.equal(
    claimOf(run(tasks, [...base, ...seeds('up-g-cd', 'cls-a', 10, three(0.7))]), 'c').status,
    'not measured',
    'no detection row',
  )
  t.equal(claimOf(run([TASKS.seg], []), 'c').notes[0], 'The run has no task of the types this claim is about.')
})

t.test('claim (d): adding S keeps C and D', async (t) => {
  const tasks = [TASKS.clsA, TASKS.det, TASKS.seg]
  const cd = [...seeds('up-g-cd', 'cls-a', 10, three(0.7)), ...seeds('up-g-cd', 'det', 10, three(0.5))]
  t.equal(
    claimOf(
      run(tasks, [...cd, ...seeds('up-g-cds', 'cls-a', 10, three(0.7)), ...seeds('up-g-cds', 'det', 10, three(0.5))]),
      'd',
    ).status,
    'holds',
  )
  t.equal(
    claimOf(
      run(tasks, [...cd, ...seeds('up-g-cds', 'cls-a', 10, three(0.7)), ...seeds('up-g-cds', 'det', 10, three(0.4))]),
      'd',
    ).status,
    'does not hold',
  )
  t.equal(claimOf(run(tasks, cd), 'd').status, 'not measured')
})

t.test('claim (e): unseen task types gain', async (t) => {
  const tasks = [TASKS.seg, TASKS.depth]
  const experts = [
    ...seeds('up-e-c', 'seg', 10, three(0.4)),
    ...seeds('up-e-d', 'seg', 10, three(0.45)),
    ...seeds('up-e-c', 'depth', 10, three(2)),
    ...seeds('up-e-d', 'depth', 10, three(1.9)),
  ]
  const holds = claimOf(
    run(tasks, [...experts, ...seeds('up-g-cd', 'seg', 10, three(0.5)), ...seeds('up-g-cd', 'depth', 10, three(1.8))]),
    'e',
  )
  t.equal(holds.status, 'holds')
  t.equal(holds.comparisons.length, 4, 'each task against each expert')
  t.equal(
    claimOf(
      run(tasks, [
        ...experts,
        ...seeds('up-g-cd', 'seg', 10, three(0.5)),
        ...seeds('up-g-cd', 'depth', 10, three(1.95)),
      ]),
      'e',
    ).status,
    'does not hold',
    'a higher RMSE than the D expert',
  )
  t.equal(claimOf(run(tasks, experts), 'e').status, 'not measured')
})

t.test('markdown carries the numbers, marks missing cells and escapes', async (t) => {
  const r = partialRun()
  const md = renderMarkdown(r)
  const supDet = r.rows
    .filter((x) => x.method === 'sup-single' && x.task === 'det' && x.percent === 100)
    .map((x) => x.value)
  const m = supDet.reduce((s, v) => s + v, 0) / supDet.length
  const sd = Math.sqrt(supDet.reduce((s, v) => s + (v - m) ** 2, 0) / (supDet.length - 1))
  t.ok(md.includes(`${(100 * m).toFixed(1)} ± ${(100 * sd).toFixed(1)} (n=3)`), 'a 100% baseline cell')
  const depth = r.rows.find((x) => x.method === 'image-text' && x.task === 'depth') as ResultRow
  t.ok(md.includes(`| ${depth.value.toFixed(3)} (n=1) |`), 'an RMSE cell with one seed')
  t.match(md, /\| image-text \| 100% \| – \| – \|/, 'a baseline without 100% rows reads –')
  t.match(md, /Supervised \\\| single source/, 'pipes in labels are escaped')
  t.match(md, /\| my-model \| 10% \|/, 'an undeclared method renders under its id')
  t.match(md, /\| Up-G \(C-D-S\) \| 10%, Down-A \| – \| 80\.5 ± 0\.7 \(n=2\) \|/, 'the Down-A row')
  t.match(md, /The run is still going/)
  for (const id of ['a', 'b', 'c', 'd', 'e'])
    t.match(md, new RegExp(`### \\(${id}\\) (holds|does not hold|not measured)`))
  t.match(md, /\| Wall time \| – \|/)
  t.match(md, /\| expert-C \| expert \| 300 \| 1h02m \|/, 'stage wall time')
})

t.test('an empty run renders: every claim not measured', async (t) => {
  const r = run(ALL, [], ['up-a', 'up-g-cds'], { finishedAt: null })
  const md = renderMarkdown(r)
  t.equal((md.match(/### \([a-e]\) not measured/g) ?? []).length, 5)
  t.match(md, /\| UP-A \| 10% \| – \| – \| – \| – \| – \| – \|/)
})

t.test('writeReport writes three files atomically; readResults reads them back', async (t) => {
  const dir = path.join(tmp(t), 'nested', 'run')
  const r = partialRun()
  writeReport(dir, r)
  t.same(fs.readdirSync(dir).sort(), ['report.html', 'report.md', 'results.json'], 'no temporary files left')
  t.same(readResults(path.join(dir, 'results.json')), r, 'results.json round-trips')
  t.equal(fs.readFileSync(path.join(dir, 'report.md'), 'utf8'), renderMarkdown(r))

  const bad = { ...r, rows: [...r.rows, { ...r.rows[0], seed: 9, value: Number.NaN }] }
  const before = fs.readFileSync(path.join(dir, 'results.json'), 'utf8')
  t.throws(() => writeReport(dir, bad), /writeReport: results: rows\[\d+\]\.value must be a finite number, got null/)
  t.equal(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'), before, 'nothing written on bad input')
})

t.test('readResults: clear errors naming the file and the field', async (t) => {
  const dir = tmp(t)
  const file = path.join(dir, 'results.json')
  const write = (value: unknown) => fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value))
  const good = run([TASKS.clsA], seeds('m', 'cls-a', 10, [0.5, 0.6]))
  const cases: [unknown, RegExp][] = [
    ['{"name": ', /readResults: '.*results\.json' is not valid JSON/],
    [{ ...good, rows: undefined }, /readResults: '.*results\.json': rows must be an array, got nothing/],
    [
      { ...good, rows: [{ ...good.rows[0], protocol: 'probe' }] },
      /rows\[0\]\.protocol must be one of linear, finetune, down-a, got "probe"/,
    ],
    [
      { ...good, rows: [{ ...good.rows[0], task: 'nope' }] },
      /rows\[0\]\.task must be a task with a card in tasks \(cls-a\), got "nope"/,
    ],
    [
      { ...good, rows: [good.rows[0], good.rows[0]] },
      /rows\[1\] must be the only row for its method, task, percent, protocol and seed/,
    ],
    [{ ...good, rows: [{ ...good.rows[0], percent: 0 }] }, /rows\[0\]\.percent must be a number in \(0, 100\]/],
    [{ ...good, tasks: [{ ...TASKS.clsA, metric: 'f1' }] }, /tasks\[0\]\.metric must be one of top1, .*, got "f1"/],
    [{ ...good, machine: { ...good.machine, threads: '2' } }, /machine\.threads must be a finite number, got "2"/],
    [
      {
        ...good,
        stages: [{ name: 's', kind: 'k', seconds: 1, steps: 1, finalLosses: {}, curve: [{ step: 0, loss: null }] }],
      },
      /stages\[0\]\.curve\[0\]\.loss must be a finite number, got null/,
    ],
  ]
  for (const [value, error] of cases) {
    write(value)
    t.throws(() => readResults(file), error, String(error))
  }
  t.throws(() => readResults(path.join(dir, 'absent.json')), /readResults: cannot read '.*absent\.json'/)
})

t.test('mergeResults: the update wins per row; everything else is united', async (t) => {
  const extra = card('extra', 'miou', 'higher')
  const base = run([TASKS.clsA], [row('a', 'cls-a', 10, 0, 0.5), row('a', 'cls-a', 10, 1, 0.6)], ['a'], {
    startedAt: '2026-01-01T00:00:00.000Z',
  })
  const update = run([TASKS.clsA, extra], [row('a', 'cls-a', 10, 1, 0.9), row('b', 'extra', 10, 2, 0.3)], ['b'], {
    startedAt: '2026-02-01T00:00:00.000Z',
    preset: 'new',
  })
  const merged = mergeResults(base, update)
  t.same(
    merged.rows.map((r) => [r.method, r.seed, r.value]),
    [
      ['a', 0, 0.5],
      ['a', 1, 0.9],
      ['b', 2, 0.3],
    ],
    'same key: the update replaces in place; new rows appended',
  )
  t.same(merged.seeds, [0, 1, 2])
  t.same(
    merged.methods.map((m) => m.id),
    ['a', 'b'],
  )
  t.same(
    merged.tasks.map((c) => c.name),
    ['cls-a', 'extra'],
  )
  t.equal(merged.startedAt, '2026-01-01T00:00:00.000Z', 'the earlier start')
  t.equal(merged.preset, 'new', "the update's run facts")
  t.same(
    base.rows.map((r) => r.value),
    [0.5, 0.6],
    'inputs untouched',
  )
})

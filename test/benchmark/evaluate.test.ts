// The runner and `intern-vision evaluate`: a stopped run continues without redoing rows, the
// command scores a zoo model end to end and merges into an existing results.json, stage folders
// and stage files load, a torchvision-named ResNet state dict loads on the backbone's keys, and
// bad input gets one clear line and exit code 2.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import t from 'tap'
import { createModel, Module, noGrad, saveFile, type Backbone } from '../../src'
import { DIGITS_PATH } from '../../src/data/formats/mnist'
import { backboneFingerprint } from '../../src/benchmark/protocols'
import { readResults, type ResultRow, type RunResults } from '../../src/benchmark/results'
import { runBenchmark } from '../../src/benchmark/run'
import { getTask } from '../../src/benchmark/tasks'
import { evaluateCommand, loadBackboneWeights, resolveModel } from '../../src/cli/evaluate'
import { packageVersion } from '../../src/runtime'
import { saveStage, type StageCard } from '../../src/intern/stage-io'
import { miniTask } from './mini-task'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-evaluate-'))
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** Runs the command with stdout and stderr captured. */
async function evaluate(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const [log, error] = [console.log, console.error]
  console.log = (...a: unknown[]) => out.push(a.join(' '))
  console.error = (...a: unknown[]) => err.push(a.join(' '))
  try {
    return { code: await evaluateCommand(argv), out: out.join('\n'), err: err.join('\n') }
  } finally {
    console.log = log
    console.error = error
  }
}

t.test('a stopped run continues where it stopped, and a finished one does nothing', async (t) => {
  const task = miniTask('world-sketch-shape', { train: 20, test: 6 })
  const out = path.join(tmp, 'resume')
  let loads = 0
  const model = {
    id: 'mn-t-scratch',
    label: 'mn-t',
    load: (): Backbone => (loads++, createModel('mn-t', { imageSize: 32 })),
  }
  const options = { models: [model], tasks: [task], percents: [50], seeds: [0, 1], out, linear: { iterations: 20 } }
  const stop = new Error('stopped after one row')
  await t.rejects(
    runBenchmark({
      ...options,
      onRow: () => {
        throw stop
      },
    }),
    stop,
  )
  const partial = readResults(path.join(out, 'results.json'))
  t.equal(partial.rows.length, 1, 'the first row was saved before the stop')
  t.equal(partial.finishedAt, null)

  const added: ResultRow[] = []
  const results = await runBenchmark({ ...options, onRow: (r) => added.push(r) })
  t.same(
    added.map((r) => r.seed),
    [1],
    'only the missing row ran',
  )
  t.same(results.rows[0], partial.rows[0], 'the saved row is kept as it was')
  t.same(readResults(path.join(out, 'results.json')).rows, results.rows)
  t.ok(results.finishedAt, 'finished')
  for (const f of ['report.md', 'report.html']) t.ok(fs.existsSync(path.join(out, f)), `${f} written`)
  t.same(results.methods, [{ id: 'mn-t-scratch', label: 'mn-t', description: '' }])

  const loadsBefore = loads
  await runBenchmark({ ...options, percents: [50, 50], seeds: [1, 0, 1], onRow: (r) => added.push(r) })
  t.equal(loads, loadsBefore, 'nothing missing: the model is not even loaded')
  t.equal(added.length, 1, 'repeated percents and seeds are one combination')
  await t.rejects(runBenchmark({ ...options, protocols: ['down-a'] }), /protocol 'down-a' needs a runner/)
  await t.rejects(runBenchmark({ ...options, percents: [0] }), /percents must be in \(0, 100\], got 0/)
})

t.test('evaluate scores a zoo model end to end and merges into an existing results.json', async (t) => {
  const name = fs.existsSync(DIGITS_PATH) ? 'digits' : 'world-sketch-shape'
  const task = getTask(name)
  const out = path.join(tmp, 'cli')
  fs.mkdirSync(out)
  const other: ResultRow = {
    method: 'other',
    task: name,
    percent: 10,
    protocol: 'linear',
    seed: 0,
    value: 0.5,
    extra: {},
    seconds: 1,
  }
  const existing: RunResults = {
    name: 'earlier',
    version: packageVersion(),
    preset: 'cpu-quick',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T01:00:00.000Z',
    machine: { cpu: 'x', cores: 1, threads: 1, kernelSet: 'generic', node: 'v20', platform: 'linux-x64' },
    seeds: [0],
    methods: [{ id: 'other', label: 'Other', description: 'an earlier method' }],
    stages: [],
    tasks: [task.card],
    rows: [other],
  }
  fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(existing))
  const run = await evaluate('--model', 'mn-t', '--tasks', name, '--percent', '10', '--seeds', '0', '--out', out)
  t.equal(run.code, 0, `exit code 0 (${run.err})`)
  t.match(run.out, /mn-t: 1 row\(s\) in/)
  const results = readResults(path.join(out, 'results.json'))
  t.equal(results.rows.length, 2)
  t.same(results.rows[0], other, "the earlier method's row is kept")
  const row = results.rows[1]
  t.match(row, { method: 'mn-t', task: name, percent: 10, protocol: 'linear', seed: 0 })
  t.ok(row.value > 0 && row.value <= 1, `${task.metric} ${row.value}`)
  t.ok(row.extra.lr > 0 && row.extra.trainImages > 0, 'the chosen hyper-parameters are in extra')
  t.same(
    results.methods.map((m) => m.id),
    ['other', 'mn-t'],
  )
  t.equal(results.preset, 'cpu-quick', 'the folder keeps its preset')
  t.equal(results.startedAt, existing.startedAt)
  t.match(fs.readFileSync(path.join(out, 'report.md'), 'utf8'), /mn-t/)

  const again = await evaluate('--model', 'mn-t', '--tasks', name, '--percent', '10', '--out', out)
  t.equal(again.code, 0)
  t.same(readResults(path.join(out, 'results.json')).rows, results.rows, 'a rerun finds its row and changes nothing')
})

class Stage extends Module {
  constructor(readonly backbone: Backbone) {
    super()
  }
}

t.test('stage folders and stage files load as backbones', async (t) => {
  const backbone = createModel('mn-t', { imageSize: 32 })
  const dir = path.join(tmp, 'stage')
  const card: StageCard = {
    name: 'up-test',
    kind: 'amateur',
    version: packageVersion(),
    backbone: 'mn-t',
    imageSize: 32,
    sources: [],
    steps: 1,
    batchSize: 1,
    seconds: 0,
    finalLosses: {},
    parents: [],
    config: {},
    createdAt: new Date().toISOString(),
  }
  saveStage(dir, new Stage(backbone), card)
  const fingerprint = backboneFingerprint(backbone)
  const fromDir = resolveModel(dir, undefined, 32)
  t.equal(fromDir.id, 'up-test')
  t.equal(backboneFingerprint(await fromDir.load()), fingerprint, 'the folder gives the stage backbone')
  t.equal(
    resolveModel(path.join(dir, 'model.safetensors'), undefined, 32).id,
    'up-test',
    'its model file with a card beside is the stage',
  )
  const loose = path.join(tmp, 'loose.safetensors')
  fs.copyFileSync(path.join(dir, 'model.safetensors'), loose)
  const fromFile = resolveModel(loose, undefined, 32)
  t.equal(fromFile.id, 'loose')
  t.equal(
    backboneFingerprint(await fromFile.load()),
    fingerprint,
    "a loose stage file: architecture from its metadata, 'backbone.' keys",
  )
  const bare = path.join(tmp, 'bare.safetensors')
  saveFile(bare, backbone.stateDict())
  t.throws(
    () => resolveModel(bare, undefined, 32),
    /does not say which architecture it holds .* --model <zoo name> --weights/,
  )
  t.throws(() => resolveModel(dir, bare, 32), /--weights goes with a zoo --model name/)
  t.throws(() => resolveModel(path.join(tmp, 'no-stage'), undefined, 32), /is not a zoo model/)
  const empty = path.join(tmp, 'empty-dir')
  fs.mkdirSync(empty)
  t.throws(() => resolveModel(empty, undefined, 32), /--model: readStageCard: .* holds no finished stage/)
})

t.test('a torchvision-named ResNet state dict loads on the backbone keys', async (t) => {
  // torchvision's resnet18: the 7x7 stem and a 1000-class fc, which the backbone has no use for
  const torchvision = createModel('resnet18', { imageSize: 224, numClasses: 1000 })
  const state = torchvision.stateDict()
  const file = path.join(tmp, 'r18.safetensors')
  saveFile(file, state)
  const { backbone, loaded, missing, unused } = loadBackboneWeights('resnet18', file, 32)
  const own = backbone.stateDict()
  t.equal(loaded, Object.keys(own).length, 'every backbone tensor came from the file')
  t.same(missing, [])
  t.same(unused.sort(), ['fc.bias', 'fc.weight'], 'the classifier is left out')
  t.same(
    own['conv1.weight'].shape,
    [64, 3, 7, 7],
    'the stem the weights fit (the standard one) is used, whatever the task size',
  )
  t.same(own['layer4.1.bn2.running_var'].data(), state['layer4.1.bn2.running_var'].data(), 'values loaded')
  t.same(own['conv1.weight'].data(), state['conv1.weight'].data())
})

t.test('weights with a prefix load; unrelated or misshapen weights are refused', async (t) => {
  const state = createModel('mn-t', { imageSize: 32 }).stateDict()
  const prefixed = path.join(tmp, 'mnt-module.safetensors')
  saveFile(prefixed, Object.fromEntries(Object.entries(state).map(([k, v]) => [`module.${k}`, v])))
  const { backbone, loaded } = loadBackboneWeights('mn-t', prefixed, 32)
  t.equal(loaded, Object.keys(state).length, "a 'module.' prefix (DataParallel) is understood")
  t.same(backbone.stateDict()['stem.0.weight'].data(), state['stem.0.weight'].data())
  const unrelated = path.join(tmp, 'unrelated.safetensors')
  saveFile(unrelated, { 'encoder.proj.weight': state['stem.0.weight'] })
  t.throws(
    () => loadBackboneWeights('mn-t', unrelated, 32),
    /no tensor of '.*unrelated.safetensors' matches a mn-t backbone/,
  )
  const wrong = path.join(tmp, 'wrong.safetensors')
  saveFile(wrong, { 'stem.0.weight': noGrad(() => state['stem.0.weight'].narrow(0, 0, 5).contiguous()) })
  t.throws(
    () => loadBackboneWeights('mn-t', wrong, 32),
    /does not fit a mn-t backbone: .*shape mismatch.*stem.0.weight: file \[5, /,
  )
})

t.test('bad input: one clear line and exit code 2', async (t) => {
  const out = path.join(tmp, 'bad')
  const corrupt = path.join(tmp, 'corrupt.safetensors')
  fs.writeFileSync(corrupt, 'not safetensors')
  const cases: [string[], RegExp][] = [
    [
      ['--model', 'mn-t', '--tasks', 'world-nope', '--out', out],
      /--tasks: getTask: no task 'world-nope'; known: .*world-sketch-shape/,
    ],
    [['--model', 'mn-t', '--percent', '0', '--out', out], /--percent: '0' is not a percent in \(0, 100\]/],
    [['--model', 'mn-t', '--percent', '10,abc', '--out', out], /--percent: 'abc' is not a percent/],
    [['--model', 'mn-t', '--percent', '10,', '--out', out], /--percent must be a comma-separated list/],
    [['--model', 'mn-t', '--seeds=-1', '--out', out], /--seeds: '-1' is not a non-negative integer/],
    [['--model', 'mn-t', '--seeds', '-1', '--out', out], /Option '--seeds' argument is ambiguous/],
    [['--model', 'mn-t', '--protocol', 'probe', '--out', out], /--protocol: 'probe' is not one of linear, finetune/],
    [['--model', 'mn-t'], /--out is required/],
    [['--out', out], /--model is required/],
    [['--model', 'mn-zz', '--out', out], /--model: 'mn-zz' is not a zoo model \(.*mn-t/],
    [['--model', path.join(tmp, 'missing.safetensors'), '--out', out], /--model: no such file '.*missing.safetensors'/],
    [
      ['--model', 'resnet18', '--weights', path.join(tmp, 'missing.safetensors'), '--out', out],
      /--weights: no such file/,
    ],
    [['--model', 'resnet18', '--weights', corrupt, '--out', out], /--weights: safetensors: .*corrupt.safetensors: /],
    [['--model', corrupt, '--out', out], /--model: safetensors: .*corrupt.safetensors: /],
    [['--model', 'mn-t', '--bogus', '--out', out], /Unknown option '--bogus'/],
    [['--model', 'mn-t', '--id', 'has space', '--out', out], /--id must be letters, digits/],
  ]
  for (const [argv, message] of cases) {
    const r = await evaluate(...argv)
    t.equal(r.code, 2, argv.join(' '))
    t.match(r.err, message)
    t.notOk(r.err.includes('\n'), 'one line')
    t.match(r.err, /^intern-vision evaluate: /)
  }
  t.notOk(fs.existsSync(path.join(out, 'results.json')), 'nothing written')
  const help = await evaluate('--help')
  t.equal(help.code, 0)
  t.match(help.out, /usage: intern-vision evaluate --model/)
})

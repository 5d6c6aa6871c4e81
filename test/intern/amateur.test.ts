// The Up-A stage trainer: the loss falls, a run split by a resume equals a straight run bit for
// bit, the image-text-only baseline touches only its term, the stage folder serves later stages,
// retrieval evaluation, and bad options. Tiny: mn-t at 32 px, batches of 8, a dozen steps.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import t from 'tap'
import { loadFile, manualSeed, noGrad, randn, type Tensor } from '../../src'
import { evaluateAmateur, loadAmateur, trainAmateur, type AmateurOptions } from '../../src/intern/amateur'
import { AmateurModel, type AmateurModelConfig } from '../../src/intern/amateur-model'
import { CARD_FILE, loadStageBackbone, LOG_FILE, MODEL_FILE, readStageCard } from '../../src/intern/stage-io'
import { readStageLog } from '../../src/intern/stage-log'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-amateur-'))
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }))

const base = (out: string): AmateurOptions => ({
  backbone: 'mn-t',
  imageSize: 32,
  steps: 12,
  batchSize: 8,
  lr: 2e-3,
  seed: 3,
  out: path.join(root, out),
  trainSize: 16,
  checkpointEvery: 4,
  log: { quiet: true },
})
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
/** A log without its wall-clock field. */
const losses = (dir: string) => readStageLog(path.join(dir, LOG_FILE)).map(({ seconds: _, ...rest }) => rest)
const weightsOf = (dir: string) => loadFile(path.join(dir, MODEL_FILE))
/** Same dtype, shape and bytes (tap's deep comparison is slow on large arrays). */
const bytes = (x: Tensor) => {
  const d = x.data()
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength)
}
const identical = (a: Tensor, b: Tensor) =>
  a.dtype === b.dtype && a.shape.join() === b.shape.join() && bytes(a).equals(bytes(b))

t.test('training lowers the loss; a run resumed after its checkpoint equals a straight run bit for bit', async (t) => {
  const straight = base('straight')
  const card = await trainAmateur(straight)
  const log = losses(straight.out)
  t.equal(log.length, 12)
  t.same(
    Object.keys(log[0]).sort(),
    ['clip', 'epoch', 'lr', 'mlm', 'nn', 'simsiam', 'step', 'total'],
    'every term is logged',
  )
  // Step 1 has an empty queue (nn = 0), so compare steps 2-5 with the last four.
  const totals = log.map((l) => l.total)
  t.ok(
    mean(totals.slice(8)) < mean(totals.slice(1, 5)),
    `the total falls: ${totals.map((v) => v.toFixed(3)).join(' ')}`,
  )
  t.ok(log[11].mlm < log[0].mlm, 'the masked-LM term falls')
  t.equal(card.steps, 12)
  t.same(card.finalLosses, {
    total: log[11].total,
    clip: log[11].clip,
    nn: log[11].nn,
    simsiam: log[11].simsiam,
    mlm: log[11].mlm,
  })

  // Part one stops at step 6 of the 12-step schedule (checkpointed at 4); part two resumes from
  // step 4, replays 5 and 6, and goes on to 12.
  const split = base('split')
  await trainAmateur({ ...split, steps: 6, scheduleSteps: 12 })
  t.equal(losses(split.out).length, 6)
  const resumed = await trainAmateur({ ...split, resume: true })
  t.equal(resumed.steps, 12)
  t.same(losses(split.out), log, 'the log equals the straight run, with no step twice')
  t.same(resumed.finalLosses, card.finalLosses)
  const a = weightsOf(straight.out)
  const b = weightsOf(split.out)
  t.same(Object.keys(b).sort(), Object.keys(a).sort())
  const differing = Object.keys(a).filter((k) => !identical(a[k], b[k]))
  t.same(differing, [], 'every tensor (weights, BatchNorm statistics, the text queue) is bit-identical')
  const seconds = readStageLog(path.join(split.out, LOG_FILE)).map((l) => l.seconds)
  t.ok(
    seconds.every((s, i) => i === 0 || s >= seconds[i - 1]),
    'training seconds accumulate across the two runs',
  )
})

t.test('the stage folder: model + card, and loadStageBackbone gives the trained backbone', async (t) => {
  const dir = path.join(root, 'straight')
  t.ok(fs.existsSync(path.join(dir, MODEL_FILE)) && fs.existsSync(path.join(dir, CARD_FILE)))
  const card = readStageCard(dir)
  t.match(card, {
    name: 'amateur',
    kind: 'amateur',
    backbone: 'mn-t',
    imageSize: 32,
    sources: ['up-image-text'],
    batchSize: 8,
  })
  t.match(card.config, { weights: { clip: 0.4, nn: 0.2, simsiam: 0.2, mlm: 0.2 }, selfSupervised: 'simsiam' })
  t.ok(
    (card.config as { model: AmateurModelConfig }).model.tokenizer.vocab.includes('circle'),
    'the card records the vocabulary',
  )
  const model = loadAmateur(dir).eval()
  const backbone = loadStageBackbone(dir).eval()
  const x = randn([3, 3, 32, 32])
  const [want, got] = noGrad(() => [model.backbone.forwardPooled(x), backbone.forwardPooled(x)])
  t.ok(identical(got, want), 'forwardPooled agrees exactly (eval mode)')
  manualSeed(3)
  const initial = new AmateurModel(card.config.model as AmateurModelConfig).eval()
  const before = noGrad(() => initial.backbone.forwardPooled(x))
  t.notOk(identical(before, want), 'and it is not the initial backbone')
  t.ok(model.queue.size > 0, 'the text queue was filled')
})

t.test('the image-text-only baseline touches only the image-text term', async (t) => {
  const o = {
    ...base('baseline'),
    steps: 3,
    weights: { clip: 1, nn: 0, simsiam: 0, mlm: 0 },
    name: 'baseline-image-text',
  }
  const card = await trainAmateur(o)
  t.equal(card.name, 'baseline-image-text')
  t.same(Object.keys(card.finalLosses).sort(), ['clip', 'total'])
  for (const line of losses(o.out)) t.same(Object.keys(line).sort(), ['clip', 'epoch', 'lr', 'step', 'total'])
  const trained = loadAmateur(o.out)
  manualSeed(o.seed)
  const initial = new AmateurModel(card.config.model as AmateurModelConfig)
  const untouched = [...initial.namedParameters()]
    .map(([k]) => k)
    .filter((k) => /^(projector|predictor|text\.mlm_head)\./.test(k))
  t.ok(untouched.length > 0)
  const now = trained.stateDict()
  const then = initial.stateDict()
  t.same(
    untouched.filter((k) => !identical(now[k], then[k])),
    [],
    'SimSiam heads and the masked-LM head unchanged',
  )
  t.notOk(identical(now['imageProjection.weight'], then['imageProjection.weight']), 'the image projection trained')
  t.equal(trained.queue.size, 0, 'the text queue stayed empty')
})

t.test('evaluateAmateur: zero-shot retrieval on the held-out val split', async (t) => {
  const dir = path.join(root, 'straight')
  const size = 40
  const r = await evaluateAmateur(dir, { size })
  for (const v of [r.imageToTextTop1, r.textToImageTop1]) {
    t.ok(v >= 0 && v <= 1)
    t.ok(Math.abs(v * size - Math.round(v * size)) < 1e-9, 'a fraction of the queries')
  }
  t.same(await evaluateAmateur(dir, { size }), r, 'deterministic')
  await t.rejects(evaluateAmateur(dir, { size: 1 }), /evaluateAmateur: size must be an integer >= 2, got 1/)
  await t.rejects(evaluateAmateur(path.join(root, 'nothing')), /readStageCard: '.*nothing' holds no finished stage/)
})

t.test('bad options get clear errors', async (t) => {
  const o = base('bad')
  await t.rejects(trainAmateur({ ...o, steps: 1 }), /trainAmateur: steps must be an integer >= 2, got 1/)
  await t.rejects(trainAmateur({ ...o, batchSize: 1 }), /trainAmateur: batchSize must be an integer >= 2, got 1/)
  await t.rejects(trainAmateur({ ...o, lr: 0 }), /trainAmateur: lr must be a finite number > 0, got 0/)
  await t.rejects(trainAmateur({ ...o, trainSize: 4 }), /trainAmateur: trainSize must be an integer >= 8, got 4/)
  await t.rejects(
    trainAmateur({ ...o, scheduleSteps: 5 }),
    /trainAmateur: scheduleSteps must be an integer >= 12, got 5/,
  )
  await t.rejects(
    trainAmateur({ ...o, weights: { clip: 0, nn: 0, simsiam: 0, mlm: 0 } }),
    /trainAmateur: every loss weight is 0/,
  )
  await t.rejects(
    trainAmateur({ ...o, weights: { clipp: 1 } as unknown as AmateurOptions['weights'] }),
    /trainAmateur: unknown loss weight 'clipp'/,
  )
  await t.rejects(
    trainAmateur({ ...o, selfSupervised: 'byol' as 'simsiam' }),
    /trainAmateur: selfSupervised must be 'simsiam' or 'simclr', got 'byol'/,
  )
  await t.rejects(
    trainAmateur({ ...o, sources: ['up-cls-colour'] }),
    /imageTextDataset: 'up-cls-colour' is a classification source, not an image-text one/,
  )
  await t.rejects(trainAmateur({ ...o, sources: ['no-such-source'] }), /upstreamSource: no source 'no-such-source'/)
  t.notOk(fs.existsSync(path.join(o.out, CARD_FILE)), 'nothing was written as a finished stage')
})

// Up-E: every expert type lowers its loss, batches are source-balanced and reproducible, an
// expert starts from its amateur's backbone, evaluateExpert computes what it says, the
// single-source supervised baseline works, and bad input is refused with nothing written.
import t from 'tap'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as iv from '../../src'
import { upstreamSource } from '../../src/data/gvd/upstream'
import type { Dataset, Sample } from '../../src/data/types'
import {
  BalancedBatches,
  createTaskHead,
  evaluateExpert,
  loadStageBackbone,
  readStageWeights,
  saveStage,
  toSourceBatches,
  trainExpert,
  type ExpertType,
  type StageCard,
} from '../../src/intern'
import { AdamW } from '../../src/optim'

const SOURCES: Record<ExpertType, string[]> = {
  C: ['up-cls-shape-lt', 'up-cls-colour'],
  D: ['up-det-round-polygon', 'up-det-symbol'],
  S: ['up-seg-family'],
}
const root = t.testdir({})
const quiet = { quiet: true }

t.test('each expert type lowers its loss on a batch in a few steps', async (t) => {
  for (const type of ['C', 'D', 'S'] as const) {
    iv.manualSeed(0)
    const backbone = iv.createModel('mn-t', { imageSize: 32 })
    const sources = SOURCES[type].map((s) => upstreamSource(s))
    const head = createTaskHead(type, backbone, sources)
    const data = sources.map((s) => s.create({ size: 4, imageSize: 32, split: 'train' }))
    const raw = await new BalancedBatches(
      sources,
      data,
      sources.map(() => 4),
      0,
    ).get(0)
    const params = [...backbone.parameters(), ...head.parameters()]
    const optimizer = new AdamW(params, { lr: 2e-3 })
    const losses: number[] = []
    for (let i = 0; i < 6; i++) {
      losses.push(
        iv.scope(() => {
          const l = head.loss(backbone, toSourceBatches(raw)).loss
          optimizer.zeroGrad()
          l.backward()
          optimizer.step()
          return l.item()
        }),
      )
    }
    t.ok(losses[5] < 0.9 * losses[0], `${type}: loss ${losses[0].toFixed(3)} -> ${losses[5].toFixed(3)}`)
  }
})

t.test('batches: each source its share, every item once per pass, a pure function of (seed, i)', async (t) => {
  const fake = (n: number): Dataset<Sample> => ({
    length: n,
    info: { name: 'fake', split: 'train', tasks: ['classification'], labelSpaces: {} },
    get: (index) => ({ image: { data: new Float32Array(3), channels: 3, height: 1, width: 1 }, index }),
  })
  const sources = [upstreamSource('up-cls-colour'), upstreamSource('up-cls-family')]
  const make = () => new BalancedBatches(sources, [fake(10), fake(4)], [2, 1], 3)
  const a = make()
  const seen: number[][] = [[], []]
  for (let i = 0; i < 5; i++) (await a.get(i)).forEach((r, s) => seen[s].push(...r.samples.map((x) => x.index!)))
  t.same(
    seen[0].slice().sort((x, y) => x - y),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    'source 0: 5 batches of 2 cover its 10 items once',
  )
  t.same(seen[1].slice(0, 4).sort(), [0, 1, 2, 3], 'source 1: its first pass covers its 4 items once')
  const again = await make().get(3)
  t.same(
    again.map((r) => r.samples.map((x) => x.index)),
    (await a.get(3)).map((r) => r.samples.map((x) => x.index)),
    'batch 3 is the same from a fresh instance',
  )
})

/** A finished amateur folder holding only a backbone (what the expert stage reads of it). */
function amateurFolder(dir: string, backbone: string): void {
  iv.manualSeed(11)
  const m = new iv.Module()
  m.registerModule('backbone', iv.createModel(backbone, { imageSize: 32 }))
  const card: StageCard = {
    name: 'amateur',
    kind: 'amateur',
    version: '0',
    backbone,
    imageSize: 32,
    sources: ['up-image-text'],
    steps: 0,
    batchSize: 0,
    seconds: 0,
    finalLosses: {},
    parents: [],
    config: {},
    createdAt: new Date(0).toISOString(),
  }
  saveStage(dir, m, card)
}

t.test('an expert starts from its amateur; its card records the parent', async (t) => {
  const amateur = path.join(root, 'amateur')
  amateurFolder(amateur, 'mn-t')
  const out = path.join(root, 'C-from-amateur')
  // A learning rate so small that one step leaves the weights where they started.
  const card = await trainExpert({
    type: 'C',
    backbone: 'mn-t',
    imageSize: 32,
    init: { amateur },
    sources: SOURCES.C,
    steps: 1,
    batchSize: 4,
    lr: 1e-12,
    seed: 0,
    out,
    log: quiet,
  })
  t.same(card.parents, [{ role: 'amateur', dir: amateur }])
  t.equal(card.kind, 'expert')
  const start = readStageWeights(amateur, 'backbone.')
  const expert = Object.fromEntries(loadStageBackbone(out).namedParameters())
  const worst = Math.max(...Object.entries(expert).map(([k, p]) => p.sub(start[k]).abs().max().item()))
  t.ok(worst < 1e-6, `the expert's backbone parameters are the amateur's (max difference ${worst})`)
  t.ok(
    fs.existsSync(path.join(out, 'log.jsonl')) && fs.existsSync(path.join(out, 'checkpoint.safetensors')),
    'log and checkpoint written',
  )
})

t.test('evaluateExpert: top-1 per source equals a hand computation; D and S give AP50 and mIoU', async (t) => {
  const dir = path.join(root, 'C')
  await trainExpert({
    type: 'C',
    backbone: 'mn-t',
    imageSize: 32,
    init: 'scratch',
    sources: SOURCES.C,
    steps: 3,
    batchSize: 4,
    lr: 2e-3,
    seed: 0,
    out: dir,
    log: quiet,
  })
  const scores = await evaluateExpert(dir, { size: 40 })
  t.same(Object.keys(scores), SOURCES.C)
  const net = loadStageBackbone(dir).eval()
  const heads = readStageWeights(dir, 'head.')
  SOURCES.C.forEach((name, s) => {
    const source = upstreamSource(name)
    const val = source.create({ size: 40, imageSize: 32, split: 'val' })
    let correct = 0
    iv.noGrad(() => {
      for (let i = 0; i < val.length; i++) {
        const sample = val.get(i) as Sample
        const image = iv.tensor(sample.image.data, { shape: [1, 3, 32, 32] })
        const logits = iv.linear(
          net.forwardPooled(image),
          heads[`classifiers.${s}.weight`],
          heads[`classifiers.${s}.bias`],
        )
        if (logits.argmax(1).item() === sample.labels![source.labelSpace!]) correct++
      }
    })
    t.equal(scores[name], correct / 40, `${name}: ${scores[name]}`)
  })

  for (const type of ['D', 'S'] as const) {
    const d = path.join(root, type)
    await trainExpert({
      type,
      backbone: 'mn-t',
      imageSize: 32,
      init: 'scratch',
      sources: SOURCES[type],
      steps: 2,
      batchSize: 4,
      lr: 2e-3,
      seed: 0,
      out: d,
      log: quiet,
    })
    const m = await evaluateExpert(d, { size: 16 })
    t.same(Object.keys(m), SOURCES[type], `${type}: one metric per source`)
    t.ok(
      Object.values(m).every((v) => v >= 0 && v <= 1),
      `${type}: metrics in [0, 1]: ${JSON.stringify(m)}`,
    )
  }
})

t.test('the single-source supervised baseline', async (t) => {
  const dir = path.join(root, 'baseline')
  const card = await trainExpert({
    type: 'C',
    backbone: 'mn-t',
    imageSize: 32,
    init: 'scratch',
    sources: ['up-cls-shape-lt'],
    steps: 2,
    batchSize: 4,
    lr: 2e-3,
    seed: 0,
    out: dir,
    name: 'baseline-sup-single',
    log: quiet,
  })
  t.equal(card.kind, 'baseline')
  t.equal(card.name, 'baseline-sup-single')
  t.same(card.sources, ['up-cls-shape-lt'])
  t.same(card.parents, [])
  t.same(
    loadStageBackbone(dir).featureChannels,
    iv.createModel('mn-t').featureChannels,
    'its backbone loads like any stage',
  )
  t.same(Object.keys(await evaluateExpert(dir, { size: 8 })), ['up-cls-shape-lt'])
})

t.test('bad input: one clear error, nothing written, nothing lost', async (t) => {
  const out = path.join(root, 'refused')
  const base = {
    type: 'C' as ExpertType,
    backbone: 'mn-t',
    imageSize: 32,
    init: 'scratch' as const,
    sources: SOURCES.C,
    steps: 1,
    batchSize: 4,
    lr: 1e-3,
    seed: 0,
    out,
    log: quiet,
  }
  amateurFolder(path.join(root, 'amateur-r18'), 'resnet18')
  const cases: [string, Partial<Parameters<typeof trainExpert>[0]>, RegExp][] = [
    ['unknown type', { type: 'X' as ExpertType }, /expert type must be one of C, D, S, got 'X'/],
    ['unknown source', { sources: ['up-cls-nothing'] }, /no source 'up-cls-nothing'/],
    [
      'a source of another task',
      { sources: ['up-det-symbol'] },
      /'up-det-symbol' is a detection source; a C expert needs classification/,
    ],
    ['no sources', { sources: [] }, /at least one source/],
    ['a source twice', { sources: ['up-cls-colour', 'up-cls-colour'] }, /given twice/],
    ['a batch smaller than the sources', { batchSize: 1 }, /batchSize 1 cannot give each of 2 sources/],
    ['zero steps', { steps: 0 }, /steps must be an integer >= 1/],
    ['a bad lr', { lr: -1 }, /lr must be a positive number/],
    ['an unknown backbone', { backbone: 'mn-zz' }, /unknown model 'mn-zz'/],
    ['an amateur without a card', { init: { amateur: path.join(root, 'nowhere') } }, /holds no finished stage/],
    [
      'a parent that is not an amateur',
      { init: { amateur: path.join(root, 'C') } },
      /is not an amateur stage \(its card says kind 'expert'\)/,
    ],
    [
      'an amateur of another architecture',
      { init: { amateur: path.join(root, 'amateur-r18') } },
      /resnet18 at 32 px; this expert is mn-t/,
    ],
  ]
  for (const [what, o, re] of cases) {
    await t.rejects(trainExpert({ ...base, ...o } as Parameters<typeof trainExpert>[0]), re, what)
    t.notOk(fs.existsSync(out), `${what}: nothing written`)
  }
  const done = path.join(root, 'C')
  const model = fs.readFileSync(path.join(done, 'model.safetensors'))
  await t.rejects(
    trainExpert({ ...base, out: done }),
    /already holds a finished stage/,
    'a finished stage is not overwritten',
  )
  t.ok(fs.readFileSync(path.join(done, 'model.safetensors')).equals(model), 'its weights are untouched')
  const unfinished = path.join(root, 'unfinished')
  fs.mkdirSync(unfinished)
  fs.copyFileSync(path.join(done, 'checkpoint.safetensors'), path.join(unfinished, 'checkpoint.safetensors'))
  await t.rejects(
    trainExpert({ ...base, out: unfinished }),
    /holds an unfinished stage; pass resume/,
    'a checkpoint is not overwritten without resume',
  )
})

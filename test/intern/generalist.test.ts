// Up-G: transfers start at exact zero (the generalist is its main expert bit for bit), the
// auxiliary experts stay frozen, adding an expert (C-D -> C-D-S) keeps the old generalist's
// outputs and leaves the experts' folders untouched, and mismatched inputs are refused with
// nothing written.
import t, { type Test } from 'tap'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as iv from '../../src'
import { upstreamSource } from '../../src/data/gvd/upstream'
import {
  createGeneralistModel,
  createTaskHead,
  ExpertModel,
  Generalist,
  loadGeneralist,
  loadStageBackbone,
  loadUpstreamBackbone,
  readStageWeights,
  saveStage,
  Transfer,
  trainGeneralist,
  type ExpertType,
  type StageCard,
} from '../../src/intern'
import type { Backbone } from '../../src/models/zoo'

const SOURCES: Record<ExpertType, string[]> = {
  C: ['up-cls-shape-lt', 'up-cls-colour'],
  D: ['up-det-symbol'],
  S: ['up-seg-family'],
}

/** A finished expert folder with random weights (nothing here needs a trained expert). */
function expertFolder(dir: string, type: ExpertType, backbone = 'mn-t', imageSize = 32, seed = 1): string {
  iv.manualSeed(seed)
  const net = iv.createModel(backbone, { imageSize })
  const sources = SOURCES[type].map((s) => upstreamSource(s))
  const card: StageCard = {
    name: `expert-${type}`,
    kind: 'expert',
    version: '0',
    backbone,
    imageSize,
    sources: SOURCES[type],
    steps: 0,
    batchSize: 0,
    seconds: 0,
    finalLosses: {},
    parents: [],
    config: { type },
    createdAt: new Date(0).toISOString(),
  }
  saveStage(dir, new ExpertModel(net, createTaskHead(type, net, sources)), card)
  return dir
}

const bytes = (x: iv.Tensor) => Buffer.from((x.contiguous().data() as Float32Array).slice().buffer)

/** Both backbones' forwardFeatures and forwardPooled, byte for byte, in train and in eval mode. */
function sameOutputs(t: Test, a: Backbone, b: Backbone, x: iv.Tensor, what: string): void {
  for (const mode of ['train', 'eval'] as const) {
    a.train(mode === 'train')
    b.train(mode === 'train')
    iv.scope(() =>
      iv.noGrad(() => {
        const fa = a.forwardFeatures(x)
        const fb = b.forwardFeatures(x)
        t.equal(fa.length, fb.length, `${what} (${mode}): as many feature maps`)
        fa.forEach((f, i) => t.ok(bytes(f).equals(bytes(fb[i])), `${what} (${mode}): feature map ${i} identical`))
        t.ok(bytes(a.forwardPooled(x)).equals(bytes(b.forwardPooled(x))), `${what} (${mode}): pooled feature identical`)
      }),
    )
  }
}

function hashFolder(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs.readdirSync(dir).map((f) => [
      f,
      crypto
        .createHash('sha256')
        .update(fs.readFileSync(path.join(dir, f)))
        .digest('hex'),
    ]),
  )
}

const root = t.testdir({})
const dirs = {
  C: expertFolder(path.join(root, 'C'), 'C', 'mn-t', 32, 1),
  D: expertFolder(path.join(root, 'D'), 'D', 'mn-t', 32, 2),
  S: expertFolder(path.join(root, 'S'), 'S', 'mn-t', 32, 3),
}
const x = iv.rand([4, 3, 32, 32], { generator: new iv.Generator(7) })

t.test('a new generalist is its main expert, bit for bit (mn-t from folders, resnet18 direct)', async (t) => {
  const g = createGeneralistModel([dirs.C, dirs.D, dirs.S]).backbone
  sameOutputs(t, g, loadStageBackbone(dirs.C), x, 'mn-t C-D-S vs C')
  t.ok(
    g.transfers
      .get(0)
      .parameters()
      .some((p) => p.abs().sum().item() > 0),
    'the transfer convs are not zero: only the last norm is',
  )

  iv.manualSeed(5)
  const main = iv.createModel('resnet18', { imageSize: 16 })
  const reference = iv.createModel('resnet18', { imageSize: 16 })
  reference.loadStateDict(main.stateDict())
  const r = new Generalist(['C', 'S'], [main, iv.createModel('resnet18', { imageSize: 16 })])
  sameOutputs(t, r, reference, iv.rand([2, 3, 16, 16]), 'resnet18 C-S vs C')
})

t.test('transfers: 1x1 at equal or coarser resolution, one stride-2 conv per halving from finer', async (t) => {
  const g = new Generalist(['C', 'D'], [iv.createModel('mn-t'), iv.createModel('mn-t')])
  // mn-t stage strides 2, 4, 8, 16, 16, 32; transfer stages 1, 2, 4 (strides 4, 8, 16).
  const set = g.transfers.get(0)
  t.same(set.pairs, [
    [0, 0],
    [1, 0],
    [1, 1],
    [2, 0],
    [2, 1],
    [2, 2],
  ])
  const convs = (set.transfers.children() as Transfer[]).map(
    (tr) => tr.layers.children().filter((m) => m instanceof iv.nn.Conv2d) as iv.nn.Conv2d[],
  )
  t.same(
    convs.map((c) => c.length),
    [1, 1, 1, 2, 1, 1],
    'convs per transfer',
  )
  t.same(
    convs.map((c) => c.map((m) => m.weight.shape[3])),
    [[1], [3], [1], [3, 3], [3], [1]],
    'kernel sizes: 1x1 at equal stride, 3x3 chains from finer',
  )

  // From a coarser map: 1x1 conv + BN, then nearest upsampling; checked against a hand-made nearest upsampling.
  const up = new Transfer(8, 4, 16, 8)
  up.eval()
  const src = iv.randn([1, 8, 2, 3])
  t.ok(up.forward(src, [4, 6]).abs().sum().item() === 0, 'starts at exact zero')
  const bn = up.layers.get(1) as iv.nn.BatchNorm2d
  iv.nn.init.ones_(bn.weight!)
  const conv = (up.layers.get(0) as iv.nn.Conv2d).weight
  const y = iv.noGrad(() => up.forward(src, [4, 6]))
  const z = iv
    .conv2d(src, conv)
    .div(Math.sqrt(1 + 1e-5))
    .data()
  const expected = new Float32Array(4 * 4 * 6)
  for (let c = 0; c < 4; c++)
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 6; j++) expected[(c * 4 + i) * 6 + j] = z[(c * 2 + (i >> 1)) * 3 + (j >> 1)]
  t.same(y.shape, [1, 4, 4, 6])
  const got = y.data()
  t.ok(
    expected.every((v, i) => Math.abs(v - got[i]) <= 1e-6 * (1 + Math.abs(v))),
    'nearest-upsampled 1x1 conv',
  )
  t.throws(() => new Transfer(8, 8, 4, 12), /stride-2/, 'a stride ratio that is not a power of two')
})

t.test('auxiliary experts are frozen: eval mode, no gradient; main branch and transfers learn', async (t) => {
  const g = createGeneralistModel([dirs.C, dirs.D]).backbone
  const aux = g.aux.get(0)
  const before = Object.fromEntries(Object.entries(aux.stateDict()).map(([k, v]) => [k, bytes(v)]))
  g.train()
  iv.scope(() => {
    const loss = g.forwardPooled(x).square().mean()
    loss.backward()
  })
  t.ok(
    Object.entries(aux.stateDict()).every(([k, v]) => bytes(v).equals(before[k])),
    'aux weights and running statistics unchanged by a train-mode step',
  )
  t.ok(
    aux.parameters().every((p) => p.grad === null && !p.requiresGrad),
    'aux parameters take no gradient',
  )
  t.ok(
    g.main.parameters().some((p) => p.grad !== null && p.grad.abs().sum().item() > 0),
    'the main branch gets gradients',
  )
  const lastNorms = (g.transfers.get(0).transfers.children() as Transfer[]).map(
    (tr) => tr.layers.children().at(-1) as iv.nn.BatchNorm2d,
  )
  t.ok(
    lastNorms.every((bn) => bn.weight!.grad !== null && bn.weight!.grad.abs().sum().item() > 0),
    'every transfer gets a gradient at its zero start',
  )

  const feats = iv.noGrad(() => g.expertFeatures(x))
  t.equal(feats.length, 2, 'main and one aux branch')
  const ref = loadStageBackbone(dirs.D).eval()
  iv.noGrad(() => ref.forwardFeatures(x)).forEach((f, i) =>
    t.ok(bytes(f).equals(bytes(feats[1][i])), `aux branch feature ${i} is the D expert's`),
  )
})

t.test('C-D trains; C-D-S extends it exactly; the experts are untouched', async (t) => {
  const hashes = Object.fromEntries(Object.entries(dirs).map(([k, d]) => [k, hashFolder(d)]))
  const cd = path.join(root, 'CD')
  const card = await trainGeneralist({
    experts: [dirs.C, dirs.D],
    steps: 3,
    batchSize: 4,
    lr: 1e-2,
    seed: 0,
    out: cd,
    log: { quiet: true },
  })
  t.equal(card.kind, 'generalist')
  t.equal(card.name, 'generalist-C-D')
  t.same(card.experts, [
    { type: 'C', dir: dirs.C },
    { type: 'D', dir: dirs.D },
  ])
  t.same(card.sources, [...SOURCES.C, ...SOURCES.D])
  const trained = loadGeneralist(cd)
  const expertC = loadStageBackbone(dirs.C)
  t.notOk(
    bytes(iv.noGrad(() => trained.eval().forwardPooled(x))).equals(
      bytes(iv.noGrad(() => expertC.eval().forwardPooled(x))),
    ),
    'the trained C-D differs from its main expert',
  )
  const expertD = readStageWeights(dirs.D, 'backbone.')
  const auxSaved = readStageWeights(cd, 'backbone.aux.0.')
  t.ok(
    Object.entries(expertD).every(([k, v]) => bytes(v).equals(bytes(auxSaved[k]))),
    'the saved aux branch is the D expert, unchanged',
  )
  t.ok(loadUpstreamBackbone(cd) instanceof Generalist, 'loadUpstreamBackbone reads a generalist')
  t.notOk(loadUpstreamBackbone(dirs.C) instanceof Generalist, 'and an expert as a zoo backbone')

  const cds = createGeneralistModel([dirs.C, dirs.D, dirs.S], cd).backbone
  sameOutputs(t, cds, loadGeneralist(cd), x, 'C-D-S at step 0 vs C-D')
  await trainGeneralist({
    experts: [dirs.C, dirs.D, dirs.S],
    from: cd,
    steps: 2,
    batchSize: 6,
    lr: 1e-2,
    seed: 0,
    out: path.join(root, 'CDS'),
    log: { quiet: true },
  })
  for (const [k, d] of Object.entries(dirs))
    t.same(hashFolder(d), hashes[k], `expert ${k}'s folder is byte for byte unchanged`)
})

t.test('mismatches: one clear error, nothing written', async (t) => {
  const other = expertFolder(path.join(root, 'D-r18'), 'D', 'resnet18', 32)
  const big = path.join(root, 'D-48')
  fs.cpSync(dirs.D, big, { recursive: true })
  const bigCard = JSON.parse(fs.readFileSync(path.join(big, 'card.json'), 'utf8'))
  fs.writeFileSync(path.join(big, 'card.json'), JSON.stringify({ ...bigCard, imageSize: 48 }))
  const twin = path.join(root, 'C-twin')
  fs.cpSync(dirs.C, twin, { recursive: true })
  const out = path.join(root, 'refused')
  const base = { steps: 1, batchSize: 6, lr: 1e-3, seed: 0, out }
  const cases: [string, Parameters<typeof trainGeneralist>[0], RegExp][] = [
    ['another architecture', { ...base, experts: [dirs.C, other] }, /one architecture and image size.*resnet18/],
    ['another image size', { ...base, experts: [dirs.C, big] }, /one architecture and image size.*48 px/],
    ['a parent without a card', { ...base, experts: [dirs.C, path.join(root, 'nowhere')] }, /holds no finished stage/],
    ['a type given twice', { ...base, experts: [dirs.C, twin] }, /type C is given twice/],
    ['one expert', { ...base, experts: [dirs.C] }, /at least two experts/],
    [
      'from: not a prefix',
      { ...base, experts: [dirs.D, dirs.C, dirs.S], from: path.join(root, 'CD') },
      /not the first of/,
    ],
    [
      'from: not a generalist',
      { ...base, experts: [dirs.C, dirs.D, dirs.S], from: dirs.C },
      /is not a generalist stage/,
    ],
    [
      'from: holds the same experts',
      { ...base, experts: [dirs.C, dirs.D], from: path.join(root, 'CD') },
      /not the first of/,
    ],
    [
      'a batch too small for the sources',
      { ...base, experts: [dirs.C, dirs.D], batchSize: 2 },
      /fewer than its 2 sources/,
    ],
  ]
  for (const [what, o, re] of cases) {
    await t.rejects(trainGeneralist(o), re, what)
    t.notOk(fs.existsSync(out), `${what}: nothing written`)
  }
  await t.rejects(
    trainGeneralist({ ...base, experts: [dirs.C, dirs.D], out: path.join(root, 'CD') }),
    /already holds a finished stage/,
    'an existing stage is not overwritten',
  )
})

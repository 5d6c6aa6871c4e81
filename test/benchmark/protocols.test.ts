// GV-B protocols: frozen features computed once and reused (memory and disk), the linear probe
// separates separable features and stays at chance on random labels, no protocol touches the
// test split before its final scoring, runs repeat exactly per seed, dense heads learn on frozen
// features, fine-tuning leaves the caller's backbone as it was, and bad input is refused.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import t from 'tap'
import { createModel, defaultGenerator, noGrad, tensor, type Backbone } from '../../src'
import { Rng } from '../../src/data'
import { accuracy } from '../../src/benchmark/metrics'
import {
  backboneFingerprint,
  computeFeatures,
  denseProbe,
  FeatureCache,
  finetune,
  holdOutSplit,
  linearProbe,
  predictLinear,
  readImages,
  runProtocol,
  scoreDenseProbe,
  scoreFinetune,
  scoreLinearProbe,
  selectLinearClassifier,
  trainDenseProbe,
  trainFinetune,
  trainLinearProbe,
  type ProtocolName,
} from '../../src/benchmark/protocols'
import { miniTask, type TestGuard } from './mini-task'
import { assertClose } from '../helpers'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-protocols-'))
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }))

const ctx = (extra: Partial<{ percent: number; seed: number; cache: FeatureCache }> = {}) => ({
  method: 'test',
  percent: 50,
  seed: 0,
  ...extra,
})
const withoutSeconds = <R extends { seconds: number }>(r: R) => ({ ...r, seconds: 0 })
const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length

/** Counts the images each forward of the backbone sees. */
function countForwards(backbone: Backbone): { images: number } {
  const count = { images: 0 }
  const pooled = backbone.forwardPooled.bind(backbone)
  const maps = backbone.forwardFeatures.bind(backbone)
  backbone.forwardPooled = (x) => ((count.images += x.shape[0]), pooled(x))
  backbone.forwardFeatures = (x) => ((count.images += x.shape[0]), maps(x))
  return count
}

t.test('features are computed once per (weights, task, split, kind) and come back from disk', async (t) => {
  const task = miniTask('world-sketch-shape', { train: 12, test: 4 })
  const backbone = createModel('mn-t', { imageSize: 32 })
  const forwards = countForwards(backbone)
  const dir = path.join(tmp, 'features')
  const cache = new FeatureCache({ dir })
  const some = await cache.get(backbone, task, 'train', 'pooled', [3, 1, 7])
  t.equal(forwards.images, 3, 'three new rows, three images through the backbone')
  t.same(some.shapes, [[backbone.pooledDim]])
  const again = await cache.get(backbone, task, 'train', 'pooled', [7, 3])
  t.equal(forwards.images, 3, 'rows already computed need no forward')
  const D = backbone.pooledDim
  t.same(
    again.levels[0],
    Float32Array.from([...some.levels[0].subarray(2 * D, 3 * D), ...some.levels[0].subarray(0, D)]),
    'same rows, asked-for order',
  )
  const all = await cache.get(backbone, task, 'train', 'pooled')
  t.equal(forwards.images, 12, 'the whole split adds only the 9 missing rows')
  t.equal(cache.stats.forwardImages, 12)

  // an independent computation: the backbone in eval mode on the images read directly
  const { images, targets } = await readImages(task, task.train(), 'train', [5])
  backbone.eval()
  const direct = noGrad(() => backbone.forwardPooled(tensor(images, { shape: [1, 3, 32, 32] })).data())
  backbone.train()
  forwards.images -= 1
  // Equal to float32 rounding: a batch of one may take other kernels (a GEMV for the
  // squeeze-excitation convolutions) than the cache's batches, and sum in another order.
  assertClose(t, all.levels[0].subarray(5 * D, 6 * D), direct, 1e-5, 1e-6, 'row 5 equals a direct eval-mode forward')
  t.same(all.targets[5], targets[0], 'targets travel with the features')
  t.equal(all.targets[5].labels!.shape, (task.train().get(5) as { labels: Record<string, number> }).labels.shape)

  const fromDisk = new FeatureCache({ dir })
  const read = await fromDisk.get(backbone, task, 'train', 'pooled')
  t.equal(forwards.images, 12, 'a new cache over the same folder reads the file, no forward')
  t.equal(fromDisk.stats.diskReads, 1)
  t.same(read.levels[0], all.levels[0])
  t.same(read.targets, all.targets)

  const first = backbone.parameters()[0]
  noGrad(() => first.copy_(first.add(0.01)))
  await cache.get(backbone, task, 'train', 'pooled', [0])
  t.equal(forwards.images, 13, 'other weights, other features: recomputed')

  for (const f of fs.readdirSync(dir)) fs.writeFileSync(path.join(dir, f), 'not a safetensors file')
  const warnings: string[] = []
  const warn = console.warn
  console.warn = (m: string) => warnings.push(m)
  try {
    await new FeatureCache({ dir }).get(backbone, task, 'train', 'pooled', [0])
  } finally {
    console.warn = warn
  }
  t.equal(forwards.images, 14, 'a corrupt cache file is recomputed, not trusted')
  t.match(warnings.join('\n'), /recomputing/)
})

t.test('dense targets survive the disk cache exactly', async (t) => {
  const backbone = createModel('mn-t', { imageSize: 64 })
  for (const name of ['world-detection', 'world-depth']) {
    const task = miniTask(name, { train: 4, test: 2 })
    const dir = path.join(tmp, `dense-${name}`)
    const computed = await new FeatureCache({ dir }).get(backbone, task, 'train', 'maps', [2, 0])
    t.same(
      computed.shapes,
      backbone.featureChannels.map((c, l) => [c, 64 / backbone.featureStrides[l], 64 / backbone.featureStrides[l]]),
    )
    const cache = new FeatureCache({ dir })
    const read = await cache.get(backbone, task, 'train', 'maps', [2, 0])
    t.equal(cache.stats.forwardImages, 0, `${name}: read back`)
    t.same(read.levels, computed.levels)
    t.same(read.targets, computed.targets, `${name}: targets equal`)
    const sample = task.train().get(2) as { objects?: { boxes: Float32Array }; depth?: Float32Array }
    if (name === 'world-detection') t.same(read.targets[0].objects!.boxes, sample.objects!.boxes)
    else t.same(read.targets[0].depth, sample.depth)
  }
})

t.test('hold-out split: stratified, disjoint, complete', async (t) => {
  const labels = Int32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2])
  const { fit, heldOut } = holdOutSplit(labels, 0.2, 3)
  t.same(
    [...fit, ...heldOut].sort((a, b) => a - b),
    [...labels.keys()],
    'every row once',
  )
  t.same(Array.from(heldOut, (i) => labels[i]).sort(), [0, 0, 1], 'floor(20%) per class: 2 of 10, 1 of 5, 0 of 2')
  t.same(holdOutSplit(labels, 0.2, 3), { fit, heldOut }, 'seeded')
})

t.test('the linear probe: ~100% on separable features, chance on random labels', async (t) => {
  const C = 4
  const D = 8
  const rng = new Rng(7)
  const draw = (n: number, randomLabels: boolean) => {
    const x = new Float32Array(n * D)
    const y = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      y[i] = rng.int(0, C)
      for (let j = 0; j < D; j++) x[i * D + j] = (j === y[i] ? 3 : 0) + rng.normal(0, 0.3)
      if (randomLabels) y[i] = rng.int(0, C)
    }
    return { x, y }
  }
  const options = { seed: 0, iterations: 150, metric: accuracy }
  const train = draw(160, false)
  const test = draw(200, false)
  const sel = await selectLinearClassifier(train.x, train.y, D, C, options)
  t.equal(sel.sweep.length, 6, 'every (lr, weight decay) pair of the default grid tried')
  t.ok(sel.heldOutValue! >= 0.95, `held-out accuracy ${sel.heldOutValue}`)
  const acc = accuracy(predictLinear(sel.classifier, test.x), test.y)
  t.ok(acc >= 0.98, `separable: test accuracy ${acc}`)

  const noise = draw(160, true)
  const noiseTest = draw(400, true)
  const chance = accuracy(
    predictLinear((await selectLinearClassifier(noise.x, noise.y, D, C, options)).classifier, noiseTest.x),
    noiseTest.y,
  )
  t.ok(chance < 1 / C + 0.1, `random labels: test accuracy ${chance} near chance ${1 / C}`)
})

t.test('no protocol reads the test split before its final scoring', async (t) => {
  const backbone = createModel('mn-t', { imageSize: 64 })
  const guard: TestGuard = { allowTest: false, testCalls: 0 }
  const cls = miniTask('world-sketch-shape', { train: 20, test: 6 }, guard)
  const seg = miniTask('world-segmentation', { train: 8, test: 4 }, guard)
  await t.rejects(
    new FeatureCache().get(backbone, cls, 'test', 'pooled'),
    /read before the final scoring/,
    'the guard works',
  )
  guard.testCalls = 0
  const c = ctx()
  const linear = await trainLinearProbe(backbone, cls, c, { iterations: 20 })
  const dense = await trainDenseProbe(backbone, seg, c, { steps: 2, batchSize: 4 })
  const tuned = await trainFinetune(backbone, cls, c, { steps: 2, batchSize: 8 })
  t.equal(guard.testCalls, 0, 'training and selection never asked for the test split')
  guard.allowTest = true
  const rows = [
    await scoreLinearProbe(linear, backbone, cls, c),
    await scoreDenseProbe(dense, backbone, seg, c),
    await scoreFinetune(tuned, cls, c),
  ]
  tuned.restore()
  t.ok(guard.testCalls > 0, 'scoring did read it')
  t.same(
    rows.map((r) => r.protocol),
    ['linear', 'linear', 'finetune'],
  )
  for (const r of rows)
    t.ok(Number.isFinite(r.value) && r.value >= 0 && r.value <= 1, `${r.task} ${r.protocol}: ${r.value}`)
})

t.test('a run repeats exactly for a seed and leaves the default generator alone', async (t) => {
  const backbone = createModel('mn-t', { imageSize: 64 })
  const cls = miniTask('world-sketch-shape', { train: 20, test: 6 })
  const seg = miniTask('world-segmentation', { train: 8, test: 4 })
  const state = defaultGenerator.getState()
  const runs = async () => [
    await linearProbe(backbone, cls, ctx({ seed: 1 }), { iterations: 20 }),
    await denseProbe(backbone, seg, ctx({ seed: 1 }), { steps: 3, batchSize: 4 }),
    await finetune(backbone, cls, ctx({ seed: 1 }), { steps: 2, batchSize: 8 }),
  ]
  const [a, b] = [await runs(), await runs()]
  t.same(b.map(withoutSeconds), a.map(withoutSeconds), 'same seed, same rows (value, extra, hyper-parameters)')
  t.same(defaultGenerator.getState(), state, 'the default generator is where it was')
  const dense = await trainDenseProbe(backbone, seg, ctx({ seed: 1 }), { steps: 3, batchSize: 4 })
  const denseAgain = await trainDenseProbe(backbone, seg, ctx({ seed: 1 }), { steps: 3, batchSize: 4 })
  t.same(denseAgain.losses, dense.losses, 'same losses step by step')
  const other = await trainDenseProbe(backbone, seg, ctx({ seed: 2 }), { steps: 3, batchSize: 4 })
  t.not(other.losses.join(), dense.losses.join(), 'another seed, another run')
})

t.test('dense heads lower their loss on frozen features', async (t) => {
  const backbone = createModel('mn-t', { imageSize: 64 })
  const cache = new FeatureCache()
  for (const [name, steps] of [
    ['world-detection', 25],
    ['world-depth', 15],
  ] as const) {
    const task = miniTask(name, { train: 16, test: 4 })
    const probe = await trainDenseProbe(backbone, task, ctx({ percent: 100, cache }), { steps, batchSize: 8, lr: 3e-3 })
    const [first, last] = [mean(probe.losses.slice(0, 5)), mean(probe.losses.slice(-5))]
    t.ok(last < 0.8 * first, `${name}: loss ${first.toFixed(3)} -> ${last.toFixed(3)}`)
    const row = await scoreDenseProbe(probe, backbone, task, ctx({ percent: 100, cache }))
    t.ok(Number.isFinite(row.value), `${name}: ${task.metric} ${row.value}`)
    if (name === 'world-depth') t.ok(row.extra.delta1 >= 0 && row.extra.delta1 <= 1, 'extra metric delta1 reported')
    t.equal(row.extra.steps, steps, 'hyper-parameters in extra')
  }
})

t.test('fine-tuning: BatchNorm statistics recomputed, backbone put back', async (t) => {
  const backbone = createModel('mn-t', { imageSize: 32 })
  const task = miniTask('world-sketch-shape', { train: 16, test: 4 })
  const before = backboneFingerprint(backbone)
  const tuned = await trainFinetune(backbone, task, ctx({ percent: 100 }), { steps: 2, batchSize: 16 })
  t.not(backboneFingerprint(backbone), before, 'the backbone was trained')
  // One batch holds the whole subset, so precise BN makes eval mode use exactly its statistics.
  const { images } = await readImages(
    task,
    task.train(),
    'train',
    Int32Array.from({ length: 16 }, (_, i) => i),
  )
  const x = tensor(images, { shape: [16, 3, 32, 32] })
  backbone.eval()
  const evalMaps = noGrad(() => backbone.forwardFeatures(x).map((f) => f.data()))
  backbone.train()
  const trainMaps = noGrad(() => backbone.forwardFeatures(x).map((f) => f.data()))
  evalMaps.forEach((e, l) => {
    let diff = 0
    let norm = 0
    e.forEach((v, i) => ((diff += (v - trainMaps[l][i]) ** 2), (norm += trainMaps[l][i] ** 2)))
    t.ok(
      Math.sqrt(diff / norm) < 2e-3,
      `level ${l}: eval-mode maps match train-mode maps (relative ${Math.sqrt(diff / norm).toExponential(2)})`,
    )
  })
  tuned.restore()
  t.equal(backboneFingerprint(backbone), before, 'restore() puts every weight and buffer back')
  const row = await finetune(backbone, task, ctx({ percent: 100 }), { steps: 2, batchSize: 8 })
  t.equal(backboneFingerprint(backbone), before, 'finetune() leaves the backbone as it found it')
  t.equal(row.extra.backboneLr, row.extra.lr * 0.1, 'the backbone trains at a tenth of the head lr')
})

t.test('bad input gets a clear error', async (t) => {
  const backbone = createModel('mn-t', { imageSize: 32 })
  const cls = miniTask('world-sketch-shape', { train: 8, test: 4 })
  const seg = miniTask('world-segmentation', { train: 8, test: 4 })
  await t.rejects(
    trainLinearProbe(backbone, seg, ctx()),
    /trainLinearProbe: task 'world-segmentation' is a segmentation task/,
  )
  await t.rejects(
    trainDenseProbe(backbone, cls, ctx()),
    /trainDenseProbe: task 'world-sketch-shape' is a classification task/,
  )
  await t.rejects(trainLinearProbe(backbone, cls, ctx({ percent: 0 })), /percent must be in \(0, 100\], got 0/)
  await t.rejects(trainLinearProbe(backbone, cls, ctx({ seed: -1 })), /seed must be a non-negative integer, got -1/)
  await t.rejects(
    trainLinearProbe(backbone, cls, ctx(), { iterations: 0 }),
    /iterations must be a positive integer, got 0/,
  )
  await t.rejects(trainLinearProbe(backbone, cls, ctx(), { lrs: [] }), /lrs must be a non-empty list/)
  await t.rejects(trainDenseProbe(backbone, seg, ctx(), { lr: -1 }), /lr must be a positive number, got -1/)
  await t.rejects(
    trainFinetune(backbone, cls, ctx(), { backboneLrScale: 2 }),
    /backboneLrScale must be in \[0, 1\], got 2/,
  )
  await t.rejects(
    runProtocol('probe' as ProtocolName, backbone, cls, ctx()),
    /unknown protocol 'probe'; known: linear, finetune/,
  )
  const wrongSize = { ...cls, imageSize: 16 }
  await t.rejects(
    computeFeatures(backbone, wrongSize, cls.train(), 'train', [0], 'pooled'),
    /image 0 of task 'world-sketch-shape' \(train\) is 3x32x32, expected 3x16x16/,
  )
  await t.rejects(
    new FeatureCache().get(backbone, cls, 'train', 'pooled', [8]),
    /index 8 is not an image of task 'world-sketch-shape' \(train, 8 images\)/,
  )
  const probe = await trainLinearProbe(backbone, cls, ctx(), { iterations: 5 })
  await t.rejects(
    scoreLinearProbe(probe, backbone, { ...cls, name: 'other' }, ctx()),
    /trained on 'world-sketch-shape', not 'other'/,
  )
})

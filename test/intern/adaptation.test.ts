// Down-A: the feature views of a generalist keep the Backbone promises, folds keep the class mix,
// the view is chosen from the few-shot train subset alone (the test split is never read while
// choosing), and the row records the choice and every view's CV score.
import t from 'tap'
import { createModel, manualSeed, noGrad, randn } from '../../src'
import { Generalist } from '../../src/intern/generalist'
import { downA, featureViews, selectView, stratifiedFolds } from '../../src/intern/adaptation'
import type { StagedBackbone } from '../../src/intern/transfer'
import { miniTask, type TestGuard } from '../benchmark/mini-task'

const fast = { linear: { iterations: 20, lrs: [0.01], weightDecays: [1e-3] } }

function generalist(): Generalist {
  manualSeed(0)
  const branch = () => createModel('mn-t', { imageSize: 32 }) as unknown as StagedBackbone
  return new Generalist(['C', 'D'], [branch(), branch()])
}

t.test('stratified folds keep every class in every fold it can reach', async (t) => {
  const labels = Int32Array.from([0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2])
  const fold = stratifiedFolds(labels, 3, 7)
  for (let f = 0; f < 3; f++) {
    for (const c of [0, 1, 2]) {
      const inClass = labels.filter((l) => l === c).length
      const n = labels.filter((l, i) => l === c && fold[i] === f).length
      t.ok(n === Math.floor(inClass / 3) || n === Math.ceil(inClass / 3), `class ${c} in fold ${f}: ${n} of ${inClass}`)
    }
  }
  t.same(stratifiedFolds(labels, 3, 7), fold, 'deterministic per seed')
})

t.test('every view of a generalist is a Backbone that keeps its shapes', async (t) => {
  const g = generalist()
  g.eval()
  const views = featureViews(g, 'classification')
  t.same(
    views.map((v) => v.name),
    ['main', 'multi-scale', 'expert-D', 'concat'],
  )
  t.same(
    featureViews(g, 'detection').map((v) => v.name),
    ['main', 'expert-D', 'concat'],
    'dense tasks read maps: no pooled-only view',
  )
  t.same(
    featureViews(createModel('mn-t'), 'classification').map((v) => v.name),
    ['main', 'multi-scale'],
    'a plain backbone',
  )
  noGrad(() => {
    const x = randn([2, 3, 32, 32])
    for (const v of views) {
      t.same(v.backbone.forwardPooled(x).shape, [2, v.backbone.pooledDim], `${v.name} pooled`)
      v.backbone
        .forwardFeatures(x)
        .forEach((f, l) => t.equal(f.shape[1], v.backbone.featureChannels[l], `${v.name} level ${l}`))
    }
    const [main, , expert, concat] = views.map((v) => v.backbone)
    const aux = (g.aux.children() as StagedBackbone[])[0]
    t.same(expert.forwardPooled(x).toArray(), aux.forwardPooled(x).toArray(), 'the expert view is the frozen branch')
    const joined = concat.forwardPooled(x)
    t.same(
      joined.narrow(1, 0, main.pooledDim).toArray(),
      main.forwardPooled(x).toArray(),
      'concat starts with the main branch',
    )
  })
})

t.test('the view is chosen without reading the test split, and the row records it', async (t) => {
  const guard: TestGuard = { allowTest: false, testCalls: 0 }
  const task = miniTask('world-sketch-shape', { train: 60, test: 30 }, guard)
  const g = generalist()
  const ctx = { method: 'up-g', percent: 50, seed: 0 }
  const selection = await selectView(g, task, ctx, fast)
  t.equal(guard.testCalls, 0, 'selection never touches the test split')
  const names = Object.keys(selection.scores)
  t.same(names, ['main', 'multi-scale', 'expert-D', 'concat'])
  const best = Math.max(...Object.values(selection.scores))
  t.equal(selection.scores[selection.view], best, 'the chosen view has the best CV score')
  guard.allowTest = true
  const row = await downA(g, task, ctx, fast)
  t.equal(row.protocol, 'down-a')
  t.equal(row.extra.view, names.indexOf(selection.view), 'the row names the same view')
  for (const n of names) t.equal(row.extra[`cv:${n}`], selection.scores[n], `cv score of ${n} recorded`)
  t.ok(row.value >= 0 && row.value <= 1)
})

t.test('bad options are refused by name', async (t) => {
  const task = miniTask('world-sketch-shape', { train: 30, test: 10 })
  const ctx = { method: 'm', percent: 50, seed: 0 }
  await t.rejects(
    selectView(createModel('mn-t'), task, ctx, { views: ['expert-Q'] }),
    /unknown view\(s\) expert-Q; this backbone has main, multi-scale/,
  )
  await t.rejects(selectView(createModel('mn-t'), task, ctx, { folds: 1 }), /folds must be an integer >= 2/)
})

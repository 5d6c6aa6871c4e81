// State: save/load mid-run continues bit-exactly; state tensors outlive scopes; zeroGrad;
// no-decay groups; results do not depend on the thread count.
import t from 'tap'
import * as iv from '../../src'
import { collectGarbage } from '../helpers'
import {
  AdamW,
  ExponentialMovingAverage,
  LARS,
  LRScheduler,
  SGD,
  paramGroupsNoDecay,
  warmupCosineSchedule,
  type OptimizerStateDict,
} from '../../src/optim'
import { buildOptimizer, fixture, make, setGrads, type OptCase } from './fixture'

/** A deep copy that shares no memory with the optimizer, as a checkpoint on disk would. */
function snapshot(sd: OptimizerStateDict): OptimizerStateDict {
  const state: OptimizerStateDict['state'] = {}
  for (const [k, s] of Object.entries(sd.state)) {
    state[Number(k)] = {}
    for (const [n, v] of Object.entries(s))
      state[Number(k)][n] = v instanceof iv.Tensor ? iv.tensor(v.data(), { shape: v.shape, dtype: v.dtype }) : v
  }
  return { paramGroups: JSON.parse(JSON.stringify(sd.paramGroups)), state }
}

t.test('stateDict mid-run, load into a fresh optimizer, continue: bit-identical to an uninterrupted run', async (t) => {
  for (const c of fixture.optimizers as OptCase[]) {
    const steps = c.grads.length
    const full = c.params.map((d, i) => make(d, c.shapes[i], c.dtype).requiresGrad_(true))
    const a = buildOptimizer(c, full)
    for (let s = 0; s < steps; s++) {
      setGrads(c, full, s)
      a.step()
      a.zeroGrad()
    }

    const first = c.params.map((d, i) => make(d, c.shapes[i], c.dtype).requiresGrad_(true))
    const b = buildOptimizer(c, first)
    const cut = 2
    for (let s = 0; s < cut; s++) {
      setGrads(c, first, s)
      b.step()
      b.zeroGrad()
    }
    const saved = snapshot(b.stateDict())
    const savedParams = first.map((p) => p.data())
    b.dispose()

    // A fresh run: same layout, different lr (the loaded hyperparameters must win).
    const resumed = savedParams.map((d, i) => iv.tensor(d, { shape: c.shapes[i] }).requiresGrad_(true))
    const r = buildOptimizer({ ...c, options: { ...c.options, lr: 123 } }, resumed)
    r.loadStateDict(saved)
    for (let s = cut; s < steps; s++) {
      setGrads(c, resumed, s)
      r.step()
      r.zeroGrad()
    }
    const same = resumed.every((p, i) => {
      const x = p.data(),
        y = full[i].data()
      return x.length === y.length && x.every((v, k) => Object.is(v, y[k]))
    })
    t.ok(same, `${c.name}: resumed run equals the uninterrupted one bit for bit`)
  }
})

t.test('LRScheduler and EMA resume exactly', async (t) => {
  const p = iv.zeros([2], { dtype: 'float64' }).requiresGrad_(true)
  const sched = () => warmupCosineSchedule({ warmupSteps: 3, totalSteps: 10, minLr: 0.01 })
  const o1 = new SGD([p], { lr: 0.5 })
  const s1 = new LRScheduler(o1, sched())
  const lrs1: number[] = []
  for (let i = 0; i < 10; i++) {
    lrs1.push(o1.paramGroups[0].lr)
    s1.step()
  }

  const o2 = new SGD([p], { lr: 0.5 })
  const s2 = new LRScheduler(o2, sched())
  const lrs2: number[] = []
  for (let i = 0; i < 4; i++) {
    lrs2.push(o2.paramGroups[0].lr)
    s2.step()
  }
  const saved = { opt: o2.stateDict(), sched: JSON.parse(JSON.stringify(s2.stateDict())) }
  const o3 = new SGD([p], { lr: 7 })
  o3.loadStateDict(saved.opt)
  const s3 = new LRScheduler(o3, sched())
  s3.loadStateDict(saved.sched)
  t.equal(s3.baseLrs[0], 0.5, 'the base lr comes from the checkpoint')
  for (let i = 4; i < 10; i++) {
    lrs2.push(o3.paramGroups[0].lr)
    s3.step()
  }
  t.same(lrs2, lrs1, 'lr sequence continues where it stopped')

  const model = [iv.randn([5, 3]), iv.randn([3])]
  const e1 = new ExponentialMovingAverage(model, { decay: 0.9, warmup: true })
  const e2 = new ExponentialMovingAverage(model, { decay: 0.9, warmup: true })
  const values = Array.from({ length: 6 }, () => model.map((m) => iv.randn(m.shape)))
  values.forEach((v) => e1.update(v))
  values.slice(0, 3).forEach((v) => e2.update(v))
  const sd = e2.stateDict()
  const copy = {
    options: sd.options,
    numUpdates: sd.numUpdates,
    shadow: Object.fromEntries(Object.entries(sd.shadow).map(([k, v]) => [k, v.clone()])),
  }
  const e3 = new ExponentialMovingAverage(model, { decay: 0.5 })
  e3.loadStateDict(copy)
  t.equal(e3.options.decay, 0.9)
  values.slice(3).forEach((v) => e3.update(v))
  t.same(
    e3.shadow.map((x) => [...x.data()]),
    e1.shadow.map((x) => [...x.data()]),
    'EMA continues bit for bit',
  )
  // Non-float tensors (counters such as BatchNorm's numBatchesTracked) are copied, not averaged.
  const counter = iv.tensor([3], { dtype: 'int32' })
  const withCounter = new ExponentialMovingAverage(
    [
      ['w', model[0]],
      ['n', counter],
    ],
    { decay: 0.5 },
  )
  withCounter.update([
    ['w', model[0]],
    ['n', iv.tensor([4], { dtype: 'int32' })],
  ])
  t.same([...withCounter.shadow[1].data()], [4], 'an int32 counter is copied')
  const target = model.map((m) => iv.zerosLike(m))
  e1.copyTo(target)
  t.same(
    target.map((x) => [...x.data()]),
    e1.shadow.map((x) => [...x.data()]),
    'copyTo writes the averages',
  )
})

t.test('state tensors outlive scopes; a step leaks no tensor memory', async (t) => {
  const w = iv.randn([16, 8]).requiresGrad_(true)
  const opt = new AdamW([w], { lr: 1e-2, amsgrad: true })
  const train = () =>
    iv.scope(() => {
      opt.zeroGrad()
      w.matmul(iv.randn([8, 4]))
        .square()
        .mean()
        .backward()
      opt.step()
    })
  train()
  const st = opt.state.get(w)!
  for (const k of ['expAvg', 'expAvgSq', 'maxExpAvgSq'])
    t.notOk((st[k] as iv.Tensor).disposed, `${k} survives the scope`)
  train()
  collectGarbage()
  const before = iv.memoryStats().blocks
  for (let i = 0; i < 5; i++) train()
  t.equal(iv.memoryStats().blocks, before, 'no blocks gained over 5 steps')
  t.equal(st.step, 7)
  opt.dispose()
  t.ok((st.expAvg as iv.Tensor).disposed, 'dispose() frees the state')
})

t.test('zeroGrad and step(closure)', async (t) => {
  const w = iv.ones([3]).requiresGrad_(true)
  const opt = new SGD([w], { lr: 0.1 })
  w.mul(2).sum().backward()
  const g = w.grad!
  opt.zeroGrad(false)
  t.same([...w.grad!.data()], [0, 0, 0], 'setToNone false zeroes in place')
  t.equal(w.grad, g)
  opt.zeroGrad()
  t.equal(w.grad, null)
  t.ok(g.disposed, 'the dropped gradient is freed at once')
  const loss = iv.noGrad(() =>
    opt.step(() => {
      const l = w.mul(3).sum()
      l.backward()
      return l.item()
    }),
  )
  t.equal(loss, 9)
  t.same(
    [...w.data()],
    [1 - 0.3, 1 - 0.3, 1 - 0.3].map(Math.fround),
    'the closure ran with grad enabled and the step used its gradient',
  )
})

t.test('paramGroupsNoDecay: decay only on weights, LARS adapts only them', async (t) => {
  const named: [string, iv.Tensor][] = [
    ['conv.weight', iv.randn([4, 3, 3, 3]).requiresGrad_(true)],
    ['conv.bias', iv.randn([4]).requiresGrad_(true)],
    ['bn.weight', iv.randn([4]).requiresGrad_(true)],
    ['fc.weight', iv.randn([10, 4]).requiresGrad_(true)],
    ['pos_embed', iv.randn([1, 5, 4]).requiresGrad_(true)],
    ['frozen.weight', iv.randn([2, 2])],
  ]
  const [decay, noDecay] = paramGroupsNoDecay(named, 0.05, ['pos_embed'])
  t.equal(decay.weightDecay, 0.05)
  t.equal(noDecay.weightDecay, 0)
  t.same(decay.params, [named[0][1], named[3][1]])
  t.same(noDecay.params, [named[1][1], named[2][1], named[4][1]])
  t.same(paramGroupsNoDecay(new Map(named), 0.1)[1].params.length, 2, 'a Map works; the skip list is optional')

  const before = named.map(([, p]) => p.data())
  const opt = new AdamW([decay, noDecay], { lr: 0.1 })
  for (const [, p] of named) if (p.requiresGrad) p.grad = iv.zerosLike(p)
  opt.step()
  // With zero gradients AdamW moves a parameter only by its decoupled decay.
  const ratio = named[0][1].data()[0] / before[0][0]
  t.ok(Math.abs(ratio - (1 - 0.1 * 0.05)) < 1e-6, `decay group shrinks by 1 - lr * wd (${ratio})`)
  t.same([...named[1][1].data()], [...before[1]], 'bias untouched')
  t.same([...named[2][1].data()], [...before[2]], 'norm weight untouched')

  const lars = new LARS(paramGroupsNoDecay(named, 1e-4), { lr: 0.1, momentum: 0.9 })
  for (const [, p] of named) if (p.requiresGrad) p.grad = iv.randn(p.shape)
  lars.step()
  t.not(lars.lastTrustRatio.get(named[0][1]), 1, 'weights are adapted')
  t.equal(lars.lastTrustRatio.get(named[1][1]), 1, 'biases are not')
  t.equal(lars.lastTrustRatio.get(named[2][1]), 1, 'norm weights are not')
})

t.test('results do not depend on the thread count (parallel kernels, blocked norms)', async (t) => {
  const threads = iv.getNumThreads()
  const run = (n: number, Opt: 'AdamW' | 'LARS' | 'SGD') => {
    iv.setNumThreads(n)
    iv.manualSeed(3)
    const w = iv.randn([300_000]).requiresGrad_(true)
    const opt =
      Opt === 'AdamW'
        ? new AdamW([w], { lr: 1e-3 })
        : Opt === 'LARS'
          ? new LARS([w], { lr: 1, momentum: 0.9, weightDecay: 1e-4 })
          : new SGD([w], { lr: 0.1, momentum: 0.9, nesterov: true })
    for (let i = 0; i < 3; i++) {
      w.grad = iv.randn([300_000])
      opt.step()
    }
    const ratio = opt instanceof LARS ? opt.lastTrustRatio.get(w) : 0
    return { data: w.data(), ratio }
  }
  try {
    for (const o of ['AdamW', 'LARS', 'SGD'] as const) {
      const a = run(1, o),
        b = run(2, o)
      t.ok(
        a.data.every((v, i) => Object.is(v, b.data[i])),
        `${o}: 1 and 2 threads agree bit for bit`,
      )
      t.equal(a.ratio, b.ratio)
    }
  } finally {
    iv.setNumThreads(threads)
  }
})

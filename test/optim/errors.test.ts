// Bad input: clear errors that name the function, the argument and the shapes; malformed
// calls to the native entry points throw instead of crashing.
import t from 'tap'
import { dtypeCode } from '../../src/backend/element-types'
import * as iv from '../../src'
import { native } from '../../src/backend/native'
import {
  Adam,
  AdamW,
  ExponentialMovingAverage,
  LARS,
  LRScheduler,
  SGD,
  clipGradNorm_,
  cosineSchedule,
  multiStepSchedule,
  paramGroupsNoDecay,
  stepSchedule,
  warmupCosineSchedule,
} from '../../src/optim'

const w = () => iv.randn([3, 4]).requiresGrad_(true)

t.test('hyperparameters', async (t) => {
  t.throws(() => new SGD([w()], { lr: -0.1 }), /SGD: lr must be a finite number >= 0, got -0.1 \(parameter group 0\)/)
  t.throws(() => new SGD([w()]), /SGD: lr is required/)
  t.throws(() => new SGD([{ params: [w()], lr: 0.1 }, { params: [w()] }]), /lr is required.*parameter group 1/)
  t.throws(() => new AdamW([w()], { lr: NaN }), /AdamW: lr must be a finite number >= 0, got NaN/)
  t.throws(() => new Adam([w()], { betas: [0.9, 1] }), /Adam: betas\[1\] must be a finite number in \[0, 1\), got 1/)
  t.throws(
    () => new AdamW([w()], { betas: [-0.1, 0.99] }),
    /AdamW: betas\[0\] must be a finite number in \[0, 1\), got -0.1/,
  )
  t.throws(() => new AdamW([w()], { betas: [0.9] as unknown as [number, number] }), /betas must be a pair/)
  t.throws(() => new AdamW([w()], { eps: -1e-8 }), /AdamW: eps must be/)
  t.throws(
    () => new AdamW([{ params: [w()], weightDecay: -1 }]),
    /AdamW: weightDecay must be a finite number >= 0, got -1 \(parameter group 0\)/,
  )
  t.throws(() => new SGD([w()], { lr: 0.1, nesterov: true }), /nesterov momentum needs momentum > 0 and dampening 0/)
  t.throws(() => new SGD([w()], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /nesterov/)
  t.throws(
    () => new SGD([w()], { lr: 0.1, weight_decay: 1 } as never),
    /SGD: unknown option 'weight_decay' in the options \(known: lr, momentum/,
  )
  t.throws(() => new AdamW([{ params: [w()], beta1: 0.9 } as never]), /unknown option 'beta1' in parameter group 0/)
  t.throws(() => new LARS([w()], { trustClip: true, lr: 0 }), /LARS: trustClip divides the trust ratio by lr/)
  t.throws(() => new LARS([w()], { trustCoefficient: -1 }), /LARS: trustCoefficient must be/)
  t.throws(() => new SGD([w()], { lr: 0.1, maximize: 1 as never }), /SGD: maximize must be a boolean, got 1/)
})

t.test('parameters', async (t) => {
  t.throws(
    () => new SGD([iv.tensor([1, 2, 3], { dtype: 'int32' })], { lr: 1 }),
    /SGD: parameter 0 of parameter group 0 has dtype int32; only float32 and float64/,
  )
  const leaf = w()
  t.throws(
    () => new AdamW([leaf.mul(2)]),
    /AdamW: parameter 0 of parameter group 0 \(shape \[3, 4\]\) is not a leaf tensor/,
  )
  t.throws(() => new AdamW([]), /AdamW: got an empty parameter list/)
  t.throws(() => new AdamW([leaf, leaf]), /appears more than once/)
  t.throws(
    () => new AdamW([{ params: [leaf] }, { params: [leaf] }]),
    /is in both parameter group 0 and parameter group 1/,
  )
  t.throws(() => new AdamW([leaf, { params: [w()] }] as never), /mixes tensors and parameter groups/)
  t.throws(() => new AdamW([{ params: [leaf, 3] }] as never), /parameter 1 of parameter group 0 is not a Tensor/)
  const gone = w()
  gone.dispose()
  t.throws(() => new SGD([gone], { lr: 1 }), /was disposed/)
  t.throws(
    () => new AdamW(42 as never),
    /params must be a tensor, an iterable of tensors or a list of parameter groups/,
  )

  const p = w()
  const opt = new AdamW([p])
  p.grad = iv.randn([4, 3])
  t.throws(
    () => opt.step(),
    /AdamW.step: parameter 0 of parameter group 0 \(shape \[3, 4\], float32\): .grad has shape \[4, 3\]/,
  )
  p.grad = iv.randn([3, 4], { dtype: 'float64' })
  t.throws(() => opt.step(), /.grad has dtype float64/)
  const q = iv.randn([4, 3]).requiresGrad_(true)
  const strided = q.detach().t()
  const o2 = new SGD([strided], { lr: 1 })
  strided.grad = iv.randn([3, 4])
  t.throws(
    () => o2.step(),
    /SGD.step: parameter 0 of parameter group 0 \(shape \[3, 4\], float32\): the parameter is not contiguous/,
  )
})

t.test('loadStateDict mismatches', async (t) => {
  const p = [w(), iv.randn([4]).requiresGrad_(true)]
  const opt = new AdamW([{ params: [p[0]] }, { params: [p[1]], weightDecay: 0 }])
  p.forEach((x) => (x.grad = iv.randn(x.shape)))
  opt.step()
  const good = opt.stateDict()
  const expAvg = good.state[0].expAvg as iv.Tensor
  const before = [...expAvg.data()]

  const other = new AdamW([{ params: [w()] }, { params: [iv.randn([5]).requiresGrad_(true)], weightDecay: 0 }])
  t.throws(
    () => other.loadStateDict(good),
    /AdamW.loadStateDict: state of parameter 0 of parameter group 1 \(shape \[5\]\): 'expAvg' has shape \[4\] but the parameter has shape \[5\]/,
  )
  t.equal(other.state.size, 0, 'a failed load changes nothing')
  t.throws(() => new AdamW([w()]).loadStateDict(good), /has 2 parameter groups, this optimizer has 1/)
  t.throws(
    () => new AdamW([{ params: [w(), w()] }, { params: [w()] }]).loadStateDict(good),
    /parameter group 0 has 1 parameters in the state dict and 2 in this optimizer/,
  )
  const fresh = () => new AdamW([{ params: [w()] }, { params: [iv.randn([4]).requiresGrad_(true)] }])
  t.throws(
    () => fresh().loadStateDict({ ...good, state: { 0: { ...good.state[0], extra: 1 } } }),
    /unexpected entry 'extra'/,
  )
  t.throws(
    () => fresh().loadStateDict({ ...good, state: { 0: { step: 1, expAvg } } }),
    /'expAvgSq' is missing or not a Tensor/,
  )
  t.throws(
    () => fresh().loadStateDict({ ...good, state: { 0: { ...good.state[0], step: -1 } } }),
    /'step' must be a non-negative integer, got -1/,
  )
  t.throws(
    () => fresh().loadStateDict({ ...good, state: { 7: good.state[0] } }),
    /state for parameter 7, which no parameter group lists/,
  )
  t.throws(
    () => fresh().loadStateDict({ ...good, paramGroups: [{ ...good.paramGroups[0], lr: -1 }, good.paramGroups[1]] }),
    /lr must be a finite number >= 0, got -1 \(loaded parameter group 0\)/,
  )
  t.throws(
    () =>
      fresh().loadStateDict({ ...good, paramGroups: [{ ...good.paramGroups[0], momentum: 0.9 }, good.paramGroups[1]] }),
    /unknown option 'momentum' in loaded parameter group 0/,
  )
  t.throws(
    () =>
      fresh().loadStateDict({ ...good, paramGroups: [{ ...good.paramGroups[0], initialLr: -1 }, good.paramGroups[1]] }),
    /initialLr must be a finite number >= 0, got -1 \(loaded parameter group 0\)/,
  )
  t.throws(() => fresh().loadStateDict(null as never), /expected \{state, paramGroups\}/)
  t.same([...expAvg.data()], before, 'the source state is untouched')
  const sgd = new SGD([w()], { lr: 0.1, momentum: 0.9 })
  t.throws(
    () =>
      sgd.loadStateDict({
        state: { 0: { momentumBuffer: iv.randn([12]) } },
        paramGroups: [{ ...sgd.stateDict().paramGroups[0] }],
      }),
    /SGD.loadStateDict: state of parameter 0 of parameter group 0 \(shape \[3, 4\]\): 'momentumBuffer' has shape \[12\] but the parameter has shape \[3, 4\]/,
  )
})

t.test('clipGradNorm_, EMA, groups and schedules', async (t) => {
  const p = w()
  p.grad = iv.randn([3, 4])
  t.throws(() => clipGradNorm_([p], -1), /clipGradNorm_: maxNorm must be a number >= 0, got -1/)
  t.throws(() => clipGradNorm_([p], 1, 0), /clipGradNorm_: normType must be > 0 or Infinity/)
  p.grad = iv.tensor([Infinity, 1, 2])
  t.throws(
    () =>
      clipGradNorm_(
        [iv.zeros([3]).requiresGrad_(true), Object.assign(iv.zeros([3]).requiresGrad_(true), { grad: p.grad })],
        1,
        2,
        { errorIfNonfinite: true },
      ),
    /total norm of order 2 of the gradients is non-finite \(Infinity\)/,
  )
  t.equal(clipGradNorm_([iv.zeros([2]).requiresGrad_(true)], 1), 0, 'no gradients: norm 0')

  t.throws(
    () => new ExponentialMovingAverage([w()], { decay: 1.5 }),
    /ExponentialMovingAverage: decay must be in \[0, 1\], got 1.5/,
  )
  t.throws(() => new ExponentialMovingAverage([w()], { deacy: 0.9 } as never), /unknown option 'deacy'/)
  const ema = new ExponentialMovingAverage([
    ['a', w()],
    ['b', iv.randn([2])],
  ])
  t.throws(
    () => ema.update([iv.randn([3, 4]), iv.randn([3])]),
    /ExponentialMovingAverage.update: tensor 1 \('b'\) has shape \[3\], the average has \[2\]/,
  )
  t.throws(() => ema.update([iv.randn([3, 4])]), /got 1 tensors, the average holds 2/)
  t.throws(
    () =>
      ema.update([
        ['b', iv.randn([3, 4])],
        ['a', iv.randn([2])],
      ]),
    /tensor 0 \('a'\) arrived named 'b'/,
  )
  t.throws(
    () => ema.loadStateDict({ options: ema.options, numUpdates: 0, shadow: { a: iv.randn([3, 4]) } }),
    /missing \["b"\]/,
  )

  t.throws(
    () => paramGroupsNoDecay([['a', w()]], -1),
    /paramGroupsNoDecay: weightDecay must be a finite number >= 0, got -1/,
  )
  t.throws(() => paramGroupsNoDecay([[1, w()]] as never, 0.1), /each entry must be a \[name, Tensor\] pair/)

  t.throws(() => cosineSchedule({ totalSteps: 0 }), /cosineSchedule: totalSteps must be an integer >= 1, got 0/)
  t.throws(() => stepSchedule({ stepSize: 2.5 }), /stepSchedule: stepSize must be an integer >= 1, got 2.5/)
  t.throws(() => multiStepSchedule({ milestones: [5, 3] }), /milestones must be non-decreasing/)
  t.throws(
    () => warmupCosineSchedule({ warmupSteps: 10, totalSteps: 10 }),
    /warmupSteps \(10\) must be less than totalSteps \(10\)/,
  )
  t.throws(() => cosineSchedule({ totalSteps: 5 })(-1, 0.1), /step must be an integer >= 0, got -1/)
  const opt = new SGD([
    { params: [w()], lr: 0.1 },
    { params: [w()], lr: 0.2 },
  ])
  t.throws(
    () => new LRScheduler(opt, [cosineSchedule({ totalSteps: 5 })]),
    /LRScheduler: got 1 schedules for 2 parameter groups/,
  )
  t.throws(() => new LRScheduler(opt, () => -1), /LRScheduler: schedule 0 gave lr -1 at step 0/)
  const s = new LRScheduler(opt, stepSchedule({ stepSize: 1, gamma: 0.5 }))
  t.throws(() => s.loadStateDict({ lastStep: 1, baseLrs: [0.1] }), /baseLrs must list 2 learning rates/)
})

t.test('native entry points reject malformed calls', async (t) => {
  const f = (n: number, dtype: iv.DType = 'float32') => iv.zeros([n], { dtype })
  const d = (x: iv.Tensor) => [x.storage.handle, x.offset, x.shape, x.strides, dtypeCode[x.dtype]]
  const call = (name: string, ...args: unknown[]) => (native[name] as (...a: unknown[]) => unknown)(...args)
  const p = f(8),
    g = f(8),
    m = f(8),
    v = f(8)
  const adam = (over: Record<number, unknown> = {}) => {
    const args: unknown[] = [d(p), d(g), d(m), d(v), null, 1e-3, 0.9, 0.999, 1e-8, 0, 1, false]
    for (const [i, x] of Object.entries(over)) args[Number(i)] = x
    return () => call('adamwStep', ...args)
  }
  t.doesNotThrow(adam(), 'a well-formed call works')
  t.throws(() => call('adamwStep', d(p)), /adamwStep: expected 12 arguments, got 1/)
  t.throws(adam({ 0: 'nope' }), /adamwStep: argument 'param' must be a tensor descriptor/)
  t.throws(adam({ 1: [p.storage.handle, 0, [8]] }), /argument 'grad' must be a tensor descriptor/)
  // Out-of-bounds views (the exact wording is args.h's; the buffer is rounded up, so go far).
  t.throws(adam({ 1: [p.storage.handle, 100, [8], [1], 0] }), /adamwStep: argument 'grad'.*(storage|offset)/)
  t.throws(adam({ 1: [p.storage.handle, 0, [8], [30], 0] }), /adamwStep: argument 'grad'.*storage/)
  t.throws(adam({ 1: [p.storage.handle, -1, [8], [1], 0] }), /adamwStep: argument 'grad'.*(storage|offset)/)
  t.throws(
    adam({ 2: [m.storage.handle, 0, [4], [2], 0] }),
    /adamwStep: argument 'expAvg' has shape \[4\] but 'param' has shape \[8\]/,
  )
  t.throws(
    adam({ 0: [p.storage.handle, 0, [4], [2], 0], 1: [g.storage.handle, 0, [4], [2], 0] }),
    /argument 'param' must be contiguous, got shape \[4\] with strides \[2\]/,
  )
  t.throws(adam({ 3: d(f(8, 'float64')) }), /argument 'expAvgSq' is float64 but 'param' is float32/)
  const ints = iv.zeros([8], { dtype: 'int32' })
  t.throws(adam({ 0: d(ints) }), /argument 'param' must be float32 or float64, got int32/)
  t.throws(adam({ 0: [p.storage.handle, 0, [8], [1], 9] }), /unknown dtype code 9/)
  t.throws(adam({ 5: NaN }), /argument 'lr' must be finite/)
  t.throws(adam({ 5: -1 }), /argument 'lr' must be >= 0/)
  t.throws(adam({ 6: 1 }), /argument 'beta1' must be in \[0, 1\)/)
  t.throws(adam({ 10: 0 }), /argument 'step' must be >= 1/)
  t.throws(adam({ 10: 1.5 }), /argument 'step' must be an integer/)
  t.throws(adam({ 11: 'yes' }), /argument 'maximize' must be a boolean/)
  t.throws(adam({ 4: d(f(7)) }), /argument 'maxExpAvgSq' has shape \[7\]/)
  const dead = f(8)
  const deadDesc = d(dead)
  dead.dispose()
  iv.emptyCache() // a disposed buffer may wait in the allocator's cache; emptied, it is freed
  t.throws(adam({ 1: deadDesc }), /adamwStep: argument 'grad'/, 'a freed buffer is refused')

  const sgd = (over: Record<number, unknown> = {}) => {
    const args: unknown[] = [d(p), d(g), d(m), 0.1, 0.9, 0, 0, false, false, true]
    for (const [i, x] of Object.entries(over)) args[Number(i)] = x
    return () => call('sgdStep', ...args)
  }
  t.doesNotThrow(sgd())
  t.throws(sgd({ 2: null }), /sgdStep: argument 'momentumBuffer' is required when momentum is non-zero/)
  t.throws(sgd({ 4: 0 }), /argument 'momentumBuffer' must be null when momentum is 0/)
  t.throws(sgd({ 7: true, 5: 0.5 }), /nesterov momentum needs momentum > 0 and dampening 0/)
  t.throws(
    () => call('larsStep', d(p), d(g), null, 0, 0, 0, 0, false, 0.001, 1e-8, true, true, false),
    /larsStep: trustClip divides the trust ratio by lr/,
  )
  t.throws(() => call('larsStep', d(p)), /larsStep: expected 13 arguments/)
  t.throws(
    () => call('emaUpdate', d(p), d(f(3)), 0.9),
    /emaUpdate: argument 'src' has shape \[3\] but 'ema' has shape \[8\]/,
  )
  t.throws(() => call('emaUpdate', d(p), d(g), 2), /argument 'decay' must be in \[0, 1\]/)
  t.throws(() => call('optimNormPow', d(p), -2), /optimNormPow: argument 'p' must be > 0 or Infinity/)
  t.throws(() => call('optimNormPow', d(p), NaN), /argument 'p' must be > 0/)
  t.throws(() => call('optimScale', d(p), Infinity), /optimScale: argument 'c' must be finite/)
  t.throws(() => call('optimScale', 5, 1), /optimScale: argument 'x' must be a tensor descriptor/)
  t.equal(call('optimNormPow', d(iv.tensor([3, -4])), 2), 25, 'and the good path answers')
  t.equal(call('optimNormPow', d(iv.tensor([3, -4])), Infinity), 4)
})

// Replays PyTorch 1.13's optimizers, clip_grad_norm_, EMA rules and lr schedulers
// (test/fixtures/optim.json, written by scripts/fixtures/optim.py) and compares every step.
import t from 'tap'
import * as iv from '../../src'
import {
  ExponentialMovingAverage,
  clipGradNorm_,
  cosineSchedule,
  multiStepSchedule,
  polySchedule,
  stepSchedule,
  warmupCosineSchedule,
  type Schedule,
} from '../../src/optim'
import { assertClose } from '../helpers'
import { buildOptimizer, fixture as fx, make, setGrads, tol, type OptCase } from './fixture'

t.test('optimizers follow torch step by step', async (t) => {
  t.ok(fx.optimizers.length >= 30, 'fixture has the optimizer cases')
  for (const c of fx.optimizers as OptCase[]) {
    const params = c.params.map((d, i) => make(d, c.shapes[i], c.dtype).requiresGrad_(true))
    const opt = buildOptimizer(c, params)
    const { rtol, atol } = tol(c.dtype)
    for (let s = 0; s < c.grads.length; s++) {
      setGrads(c, params, s)
      opt.step()
      params.forEach((p, i) =>
        assertClose(t, p.data(), c.trajectory[s][i], rtol, atol, `${c.name} step ${s + 1} param ${i}`),
      )
      opt.zeroGrad()
    }
    t.equal(params[0].dtype, c.dtype, `${c.name}: parameters keep their dtype`)
  }
})

t.test('clipGradNorm_ matches torch.nn.utils.clip_grad_norm_', async (t) => {
  for (const c of fx.clip) {
    const params = (c.shapes as number[][]).map((s) => iv.zeros(s, { dtype: c.dtype }).requiresGrad_(true))
    params.forEach((p, i) => (p.grad = make(c.grads[i], c.shapes[i], c.dtype)))
    const total = clipGradNorm_(params, c.maxNorm, c.normType === 'inf' ? Infinity : c.normType)
    const label = `${c.dtype} norm ${c.normType} max ${c.maxNorm}`
    const { rtol, atol } = tol(c.dtype)
    assertClose(t, [total], [c.total], c.dtype === 'float64' ? 1e-12 : 1e-5, 0, `${label} total`)
    params.forEach((p, i) => assertClose(t, p.grad!.data(), c.clipped[i], rtol, atol, `${label} grad ${i}`))
  }
  // A non-contiguous gradient (set by hand) is measured and scaled in place all the same.
  const p = iv.zeros([3, 2], { dtype: 'float64' }).requiresGrad_(true)
  p.grad = iv
    .tensor(
      [
        [3, 0, 0],
        [4, 0, 0],
      ],
      { dtype: 'float64' },
    )
    .t()
  t.equal(p.grad.isContiguous(), false)
  t.equal(clipGradNorm_([p], 1), 5)
  assertClose(t, p.grad.data(), [3 / (5 + 1e-6), 4 / (5 + 1e-6), 0, 0, 0, 0], 1e-12, 0, 'strided grad scaled')
})

t.test('ExponentialMovingAverage matches the timm ModelEmaV2 update and V3 warmup', async (t) => {
  for (const c of fx.ema) {
    const shapes = c.shapes as number[][]
    const model = shapes.map((s, i) => make(c.values[0][i], s, c.dtype))
    const ema = new ExponentialMovingAverage(model, c.options)
    const { rtol, atol } = tol(c.dtype)
    for (let s = 1; s < c.values.length; s++) {
      model.forEach((m, i) => m.copy_(make(c.values[s][i], shapes[i], c.dtype)))
      const d = ema.update(model)
      assertClose(t, [d], [c.decays[s - 1]], 1e-15, 0, `${JSON.stringify(c.options)} decay at ${s}`)
      ema.shadow.forEach((e, i) =>
        assertClose(
          t,
          e.data(),
          c.shadows[s - 1][i],
          rtol,
          atol,
          `${c.dtype} ${JSON.stringify(c.options)} step ${s} tensor ${i}`,
        ),
      )
    }
    ema.dispose()
  }
})

t.test('schedules reproduce torch lr_scheduler sequences', async (t) => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- fixture options for five schedule kinds
  const build = (kind: string, o: any): Schedule => {
    switch (kind) {
      case 'warmupCosine':
        return warmupCosineSchedule(o)
      case 'cosine':
        return cosineSchedule(o)
      case 'step':
        return stepSchedule(o)
      case 'multiStep':
        return multiStepSchedule(o)
      case 'poly':
        return polySchedule(o)
    }
    throw new Error(kind)
  }
  for (const c of fx.schedules) {
    const s = build(c.kind, c.options)
    const got = (c.lrs as number[]).map((_, i) => s(i, c.baseLr))
    assertClose(t, got, c.lrs, 1e-10, 1e-15, `${c.kind} ${JSON.stringify(c.options)}`)
  }
})

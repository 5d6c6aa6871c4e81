import t from 'tap'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { randn, tensor } from '../../src/tensor/creation'
import { Generator } from '../../src/tensor/random'
import { Tensor } from '../../src/tensor/tensor'
import { loadCheckpoint, saveCheckpoint } from '../../src/io/checkpoint'
import { loadFile, saveFile } from '../../src/io/safetensors'
import { Dropout, Linear, Sequential } from '../../src/nn'
import { AdamW, type OptimizerStateDict } from '../../src/optim'
import { defaultGenerator, manualSeed } from '../../src/tensor/random'

const values = (x: unknown) => Array.from((x as Tensor).data())

t.test('a checkpoint round-trips model, optimizer state, step, rng and extra', async (t) => {
  const file = path.join(t.testdir({}), 'ckpt.safetensors')
  const g = new Generator(7)
  g.normal() // leaves a spare normal in the state: a NaN-free number to keep
  const fresh = new Generator(8).getState() // spare is NaN here: must survive JSON
  const model = {
    'fc.weight': randn([3, 2]),
    'fc.bias': randn([3]),
    'bn.num_batches_tracked': tensor(5, { dtype: 'int32' }),
  }
  const optimizer = {
    state: { 0: { step: 4, exp_avg: randn([3, 2]), exp_avg_sq: randn([3, 2]) }, 1: { step: 4, exp_avg: randn([3]) } },
    param_groups: [{ lr: 1e-3, betas: [0.9, 0.999], weight_decay: 0.05, params: [0, 1], maxNorm: Infinity }],
  }
  saveCheckpoint(file, {
    model,
    optimizer,
    step: 1200,
    rng: g.getState(),
    extra: { epoch: 3, best: -Infinity, fresh, ema: { w: randn([2]) } },
  })
  const c = loadCheckpoint(file)
  t.equal(c.step, 1200)
  t.same(Object.keys(c.model), Object.keys(model), 'model keys in saved order')
  for (const k of Object.keys(model)) t.same(values(c.model[k]), values(model[k as keyof typeof model]), k)
  t.equal(c.model['bn.num_batches_tracked'].dtype, 'int32')
  const o = c.optimizer as typeof optimizer
  t.same(values(o.state[0].exp_avg_sq), values(optimizer.state[0].exp_avg_sq))
  t.same(values(o.state[1].exp_avg), values(optimizer.state[1].exp_avg))
  t.same(o.param_groups, optimizer.param_groups, 'hyper-parameters, Infinity included')
  const restored = new Generator(0)
  restored.setState(c.rng as number[])
  t.same([restored.normal(), restored.random()], [g.normal(), g.random()], 'the generator continues where it stopped')
  const extra = c.extra as { epoch: number; best: number; fresh: number[]; ema: { w: Tensor } }
  t.equal(extra.best, -Infinity)
  t.ok(Number.isNaN(extra.fresh[4]), 'NaN survives')
  t.equal(extra.ema.w.numel, 2)
  // The weights are a plain state dict to any safetensors reader.
  t.same(values(loadFile(file)['model.fc.bias']), values(model['fc.bias']))
})

t.test('clear errors for bad checkpoints and bad values', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'c.safetensors')
  t.throws(() => saveCheckpoint(file, { model: {}, step: NaN }), /saveCheckpoint: step must be a finite number/)
  t.throws(
    () => saveCheckpoint(file, { model: { w: [1, 2] as unknown as Tensor }, step: 0 }),
    /model\['w'\] must be a Tensor/,
  )
  t.throws(
    () => saveCheckpoint(file, { model: {}, step: 0, extra: { when: new Date() as never } }),
    /extra\.when is a Date; checkpoints hold JSON values/,
  )
  t.throws(() => saveCheckpoint(file, { model: {}, step: 0, extra: { __tensor__: 'x' } }), /reserved key '__tensor__'/)
  t.notOk(fs.existsSync(file), 'nothing written on a bad argument')
  saveFile(file, { w: randn([2]) })
  t.throws(() => loadCheckpoint(file), /loadCheckpoint: .*c\.safetensors: not an intern-vision checkpoint/)
  saveFile(
    file,
    { 'model.w': randn([2]), stray: randn([1]) },
    { 'intern-vision.checkpoint': JSON.stringify({ version: 1, step: 0, modelKeys: ['w'] }) },
  )
  t.throws(() => loadCheckpoint(file), /tensors not referenced by the checkpoint metadata: stray/)
  saveFile(file, {}, { 'intern-vision.checkpoint': JSON.stringify({ version: 1, step: 0, modelKeys: ['w'] }) })
  t.throws(() => loadCheckpoint(file), /model tensor 'w' is missing/)
  saveFile(file, {}, { 'intern-vision.checkpoint': JSON.stringify({ version: 99, step: 0, modelKeys: [] }) })
  t.throws(() => loadCheckpoint(file), /unsupported checkpoint version 99/)
})

t.test('resuming from a checkpoint continues exactly like an uninterrupted run', async (t) => {
  const file = path.join(t.testdir({}), 'run.safetensors')
  const x = randn([8, 4])
  const target = randn([8, 2])
  // Dropout draws from the default generator, so the RNG state must be restored too.
  const make = () => new Sequential(new Linear(4, 6), new Dropout(0.3), new Linear(6, 2))
  const train = (model: Sequential, opt: AdamW, steps: number) => {
    const losses: number[] = []
    for (let i = 0; i < steps; i++) {
      opt.zeroGrad()
      const loss = model.forward(x).sub(target).square().mean()
      loss.backward()
      opt.step()
      losses.push(loss.item())
    }
    return losses
  }
  manualSeed(11)
  const model = make()
  const opt = new AdamW(model.parameters(), { lr: 0.05 })
  const first = train(model, opt, 3)
  saveCheckpoint(file, {
    model: model.stateDict(),
    optimizer: opt.stateDict(),
    step: 3,
    rng: defaultGenerator.getState(),
  })
  const straight = train(model, opt, 3)

  manualSeed(99) // a different start, all overwritten by the checkpoint
  const resumed = make()
  const opt2 = new AdamW(resumed.parameters(), { lr: 0.05 })
  const c = loadCheckpoint(file)
  resumed.loadStateDict(c.model)
  opt2.loadStateDict(c.optimizer as OptimizerStateDict)
  defaultGenerator.setState(c.rng as number[])
  t.equal(c.step, 3)
  t.equal(first.length, 3)
  t.same(train(resumed, opt2, 3), straight, 'the same losses')
  t.same(values(resumed.get(2).parameters()[0]), values(model.get(2).parameters()[0]), 'the same weights')
})

// fit({ precision: 'bf16' }) and --precision bf16: a small convnet trained under autocast
// reaches the float32 model's accuracy on sklearn's 8x8 digits, its weights stay float32, and
// the command line takes and records the flag.
import t from 'tap'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as iv from '../../src'
import { digits } from '../../src/data'
import { main } from '../../src/cli/main'

function tensors(split: 'train' | 'test'): { x: iv.Tensor; y: iv.Tensor } {
  const d = digits({ split })
  const xs = new Float32Array(d.length * 64)
  const ys = new Int32Array(d.length)
  for (let i = 0; i < d.length; i++) {
    const s = d.get(i)
    xs.set(s.image.data, i * 64)
    ys[i] = s.labels!.class as number
  }
  return { x: iv.tensor(xs).reshape([d.length, 1, 8, 8]), y: iv.tensor(ys) }
}

function convnet(): iv.nn.Module {
  const { Sequential, Conv2d, BatchNorm2d, ReLU, Flatten, Linear, AdaptiveAvgPool2d } = iv.nn
  return new Sequential(
    new Conv2d(1, 16, 3, { padding: 1 }),
    new BatchNorm2d(16),
    new ReLU(),
    new Conv2d(16, 32, 3, { stride: 2, padding: 1 }),
    new BatchNorm2d(32),
    new ReLU(),
    new AdaptiveAvgPool2d(1),
    new Flatten(),
    new Linear(32, 10),
  )
}

async function trainAndTest(precision: iv.Precision): Promise<{ accuracy: number; model: iv.nn.Module }> {
  iv.manualSeed(5)
  const train = tensors('train')
  const test = tensors('test')
  const model = convnet()
  const batch = 64
  const perEpoch = Math.floor(train.y.shape[0] / batch)
  await iv.fit({
    model,
    optimizer: new iv.AdamW(model.parameters(), { lr: 0.01 }),
    epochs: 6,
    precision,
    batches: function* (epoch) {
      const order = iv.randperm(train.y.shape[0], { generator: new iv.Generator(epoch) })
      for (let i = 0; i < perEpoch; i++) yield order.narrow(0, i * batch, batch)
    },
    step: (idx, m) => iv.crossEntropy(m.forward(train.x.indexSelect(0, idx)) as iv.Tensor, train.y.indexSelect(0, idx)),
    log: { quiet: true },
  })
  model.eval()
  const accuracy = iv.noGrad(() => {
    const run = () => (model.forward(test.x) as iv.Tensor).argmax(1).eq(test.y).float().mean().item()
    return precision === 'bf16' ? iv.autocast('bfloat16', run) : run()
  })
  return { accuracy, model }
}

t.test("a convnet trained under bf16 autocast reaches the float32 model's accuracy (digits)", async (t) => {
  const f32 = await trainAndTest('float32')
  const bf16 = await trainAndTest('bf16')
  t.ok(f32.accuracy > 0.9, `float32 test accuracy ${f32.accuracy.toFixed(3)}`)
  t.ok(
    bf16.accuracy >= f32.accuracy - 0.03,
    `bf16 test accuracy ${bf16.accuracy.toFixed(3)} within 3 points of float32 ${f32.accuracy.toFixed(3)}`,
  )
  for (const [name, p] of bf16.model.namedParameters()) if (p.dtype !== 'float32') t.fail(`${name} is ${p.dtype}`)
  t.notOk(iv.isAutocastEnabled(), 'fit leaves autocast off')
})

t.test('fit refuses an unknown precision', async (t) => {
  const model = new iv.nn.Linear(2, 2)
  await t.rejects(
    iv.fit({
      model,
      optimizer: new iv.SGD(model.parameters(), { lr: 0.1 }),
      precision: 'fp16' as never,
      batches: () => [],
      step: () => iv.zeros([]),
    }),
    /fit: precision must be 'float32' or 'bf16', got "fp16"/,
  )
})

t.test('train --precision bf16 trains, evaluates and records the precision', async (t) => {
  const out = path.join(t.testdir({}), 'run')
  const quiet = { log: console.log, error: console.error }
  console.log = () => {}
  console.error = () => {}
  let code: number
  let bad: number
  try {
    const tiny = [
      '--image-size',
      '32',
      '--train-size',
      '32',
      '--test-size',
      '16',
      '--batch-size',
      '16',
      '--workers',
      '0',
    ]
    code = await main(['train', ...tiny, '--steps', '2', '--precision', 'bf16', '--out', out])
    bad = await main(['train', '--precision', 'fp16'])
  } finally {
    Object.assign(console, quiet)
  }
  t.equal(code, 0)
  t.equal(bad, 2, 'an unknown precision is a usage error')
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { precision: string }
  t.equal(report.precision, 'bf16')
})

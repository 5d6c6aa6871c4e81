import t from 'tap'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as iv from '../../src'
import { Linear, Module, Dropout } from '../../src/nn'
import { SGD, LRScheduler, cosineSchedule } from '../../src/optim'
import { fit } from '../../src/train'

class Mlp extends Module {
  fc1 = new Linear(8, 16)
  drop = new Dropout(0.2)
  fc2 = new Linear(16, 3)
  override forward(x: iv.Tensor): iv.Tensor {
    return this.fc2.forward(this.drop.forward(this.fc1.forward(x).relu())) as iv.Tensor
  }
}

// 12 batches per epoch, reshuffled per epoch from a seed: the same epoch gives the same batches.
const data = (() => {
  const g = new iv.Generator(99)
  const x = iv.randn([96, 8], { generator: g })
  const y = iv.randn([96, 3], { generator: g })
  return { x, y }
})()
function* batches(epoch: number): Iterable<[iv.Tensor, iv.Tensor]> {
  const perm = Array.from(iv.randperm(96, { generator: new iv.Generator(1000 + epoch) }).data())
  for (let b = 0; b < 12; b++) {
    const idx = perm.slice(b * 8, b * 8 + 8)
    yield [iv.stack(idx.map((i) => data.x.select(0, i))), iv.stack(idx.map((i) => data.y.select(0, i)))]
  }
}

function setup(seed: number) {
  iv.manualSeed(seed)
  const model = new Mlp()
  const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 })
  const scheduler = new LRScheduler(optimizer, cosineSchedule({ totalSteps: 30 }))
  return { model, optimizer, scheduler }
}

const step = ([x, y]: [iv.Tensor, iv.Tensor], model: Module) => (model.forward(x) as iv.Tensor).sub(y).square().mean()

t.test('a resumed run continues exactly where it stopped', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-fit-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const full = await fit({ ...setup(0), batches, step, epochs: 3, maxSteps: 30, log: { quiet: true } })
  t.equal(full.steps, 30)
  t.ok(full.losses[29] < full.losses[0], 'the loss falls')

  const ckpt = path.join(dir, 'run.safetensors')
  // The first run stops at step 17 (mid-epoch), having checkpointed at 8, 16 and, at its end, 17.
  const first = await fit({
    ...setup(0),
    batches,
    step,
    epochs: 3,
    maxSteps: 17,
    checkpoint: { path: ckpt, every: 8 },
    log: { quiet: true },
  })
  t.equal(first.steps, 17)
  // A fresh process would build everything anew, from another seed even: resume restores it.
  const jsonl = path.join(dir, 'log.jsonl')
  const second = await fit({
    ...setup(123),
    batches,
    step,
    epochs: 3,
    maxSteps: 30,
    checkpoint: { path: ckpt, every: 8 },
    resume: true,
    log: {
      jsonlPath: jsonl,
      quiet: false,
      stream: { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream,
    },
  })
  t.equal(second.resumedFrom, 17)
  t.same([...first.losses, ...second.losses], full.losses, 'the loss curve equals the uninterrupted run')
  const lines = fs
    .readFileSync(jsonl, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  t.equal(lines.length, 13)
  t.same(Object.keys(lines[0]).sort(), ['epoch', 'loss', 'lr', 'step', 'time'])
})

t.test('fit rejects bad options and a diverging loss', async (t) => {
  await t.rejects(fit({ ...setup(0), batches, step, epochs: 0 }), /epochs must be a positive integer/)
  await t.rejects(fit({ ...setup(0), batches, step, resume: true }), /resume needs checkpoint.path/)
  await t.rejects(
    fit({ ...setup(0), batches, step: () => iv.tensor([NaN], { requiresGrad: true }).sum(), log: { quiet: true } }),
    /the loss became NaN at step 1/,
  )
})

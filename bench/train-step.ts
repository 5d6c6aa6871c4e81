// Training-step throughput: forward + backward + SGD step, images/s, batch 64, 2 threads, for
// ResNet-18 (CIFAR layout, 32 px) and MetaNets mn-t and mn-s at 32 and 64 px and mn-b4 at 64
// px (10 classes), beside PyTorch CPU's on the same architectures (the reference modules of
// scripts/fixtures/models.py, built from our configurations; their parameter counts are
// checked against ours) in the same run. ONLY=<text> keeps the cases whose name contains it;
// NO_TORCH=1 skips PyTorch (for alternating runs of two builds).
//   npx tsx bench/train-step.ts          (also a section of npm run bench)
import * as iv from '../src'
import { MetaNet, resnet18 } from '../src/models'
import type { Module } from '../src/nn'
import { hasTorch, printTable, timeIt, torchMetaNetConfig, torchRun } from './util'

const batch = Number(process.env.BENCH_TRAIN_BATCH ?? 64)
iv.setNumThreads(2)

// Steps run for 2 s before timing (at least 2 of them), on both sides: our first dozen steps
// also run the model's JavaScript before V8 has optimised it, which a training run pays once.
const warmSeconds = 2

/** Seconds per step (median). */
function stepTime(model: Module, size: number): number {
  const opt = new iv.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 })
  const x = iv.randn([batch, 3, size, size])
  const y = iv.randint(0, 10, [batch])
  model.train()
  return timeIt(
    () =>
      iv.scope(() => {
        opt.zeroGrad()
        iv.crossEntropy(model.forward(x) as iv.Tensor, y).backward()
        opt.step()
      }),
    5,
    2,
    warmSeconds,
  )
}

type Case = { name: string; model: string; size: number }
const metaNet = (model: string, size: number): Case => ({ name: `${model} (${size}px)`, model, size })
let cases: Case[] = [
  { name: 'resnet18 (CIFAR, 32px)', model: 'resnet18', size: 32 },
  metaNet('mn-t', 32),
  metaNet('mn-t', 64),
  metaNet('mn-s', 32),
  metaNet('mn-s', 64),
  metaNet('mn-b4', 64),
]
const only = process.env.ONLY
if (only) cases = cases.filter((c) => c.name.includes(only))

const make = (c: Case): Module =>
  c.model === 'resnet18' ? resnet18({ numClasses: 10, cifar: true }) : new MetaNet(c.model, { numClasses: 10 })
const ours = cases.map((c) => {
  const model = make(c)
  const parameters = model.parameters().reduce((n, p) => n + p.numel, 0)
  return { parameters, imagesPerSecond: batch / stepTime(model, c.size) }
})

const torchCases = cases.map((c) => ({
  size: c.size,
  config: c.model === 'resnet18' ? null : torchMetaNetConfig(c.model),
}))
const torch =
  hasTorch && !process.env.NO_TORCH
    ? torchRun<{ parameters: number; imagesPerSecond: number }[]>(`
import sys, os
sys.path.insert(0, os.path.join(os.getcwd(), 'scripts', 'fixtures'))
from models import ResNet18Cifar, MetaNet
out = []
for c in json.loads('${JSON.stringify(torchCases)}'):
    m = (ResNet18Cifar(10) if c['config'] is None else MetaNet(c['config'], 10)).train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(${batch}, 3, c['size'], c['size']); y = torch.randint(0, 10, (${batch},))
    def step():
        opt.zero_grad(); torch.nn.functional.cross_entropy(m(x), y).backward(); opt.step()
    out.append({'parameters': sum(p.numel() for p in m.parameters()), 'imagesPerSecond': ${batch} / timeit(step, 5, 2, ${warmSeconds})})
print(json.dumps(out))`)
    : null

// A reference module with another parameter count is another architecture: no ratio then.
const mismatched = cases.filter((_, i) => torch && torch[i].parameters !== ours[i].parameters)
printTable(
  `training step (forward + backward + SGD), batch ${batch}, 2 threads, images/s (median)`,
  ['model', 'parameters', 'intern-vision', 'PyTorch', 'ratio'],
  cases.map((c, i) => {
    const t = torch && !mismatched.includes(c) ? torch[i].imagesPerSecond : NaN
    return [c.name, ours[i].parameters, ours[i].imagesPerSecond, t, ours[i].imagesPerSecond / t]
  }),
)
for (const c of mismatched) {
  const i = cases.indexOf(c)
  console.log(
    `${c.name}: the PyTorch module has ${torch?.[i].parameters} parameters, ours ${ours[i].parameters}: not compared`,
  )
}

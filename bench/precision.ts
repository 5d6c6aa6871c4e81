// bfloat16 beside float32: the training step (forward + backward + SGD, batch 64, 2 threads)
// of ResNet-18 (CIFAR layout) and mn-t at 32 px in float32 and under autocast('bfloat16'),
// images/s, beside PyTorch CPU in the same run (torch.autocast('cpu', torch.bfloat16) on the
// reference modules of scripts/fixtures/models.py).
import * as iv from '../src'
import { MetaNet, resnet18 } from '../src/models'
import type { Module } from '../src/nn'
import { hasTorch, printTable, timeIt, torchRun } from './util'

const batch = Number(process.env.BENCH_TRAIN_BATCH ?? 64)
iv.setNumThreads(2)

// 2 s of warm-up steps on both sides, as bench/train-step.ts.
const warmSeconds = 2

function imagesPerSecond(model: Module, precision: iv.Precision): number {
  const opt = new iv.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 })
  const x = iv.randn([batch, 3, 32, 32])
  const y = iv.randint(0, 10, [batch])
  model.train()
  const forward = () => iv.crossEntropy(model.forward(x) as iv.Tensor, y)
  const seconds = timeIt(
    () =>
      iv.scope(() => {
        opt.zeroGrad()
        ;(precision === 'bf16' ? iv.autocast('bfloat16', forward) : forward()).backward()
        opt.step()
      }),
    5,
    2,
    warmSeconds,
  )
  return batch / seconds
}

const cases: [string, () => Module][] = [
  ['resnet18 (CIFAR, 32px)', () => resnet18({ numClasses: 10, cifar: true })],
  ['mn-t (32px)', () => new MetaNet('mn-t', { numClasses: 10 })],
]
const precisions: iv.Precision[] = ['float32', 'bf16']

const ours = cases.map(([, make]) => precisions.map((p) => imagesPerSecond(make(), p)))
const torch = hasTorch
  ? torchRun<(number | null)[][]>(`
import sys, os
sys.path.insert(0, os.path.join(os.getcwd(), 'scripts', 'fixtures'))
from models import ResNet18Cifar, MetaNet, MN_T
out = []
for make in [lambda: ResNet18Cifar(10), lambda: MetaNet(MN_T, 10)]:
    row = []
    for bf16 in (False, True):
        m = make().train()
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
        x = torch.randn(${batch}, 3, 32, 32); y = torch.randint(0, 10, (${batch},))
        def step():
            opt.zero_grad()
            with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
                loss = torch.nn.functional.cross_entropy(m(x), y)
            loss.backward(); opt.step()
        try:
            row.append(${batch} / timeit(step, 5, 2, ${warmSeconds}))
        except RuntimeError:  # torch 1.13's CPU autocast fails on layer_norm (bf16 input, float32 weight)
            row.append(None)
    out.append(row)
print(json.dumps(out))`)
  : null

printTable(
  `training step (forward + backward + SGD), batch ${batch}, 2 threads, images/s (median)`,
  ['model', 'precision', 'intern-vision', 'PyTorch', 'ratio', 'bf16 / float32 (ours)'],
  cases.flatMap(([name], i) =>
    precisions.map((p, j) => {
      const theirs = torch?.[i][j] ?? NaN // NaN: PyTorch failed (see the script)
      return [name, p, ours[i][j], theirs, ours[i][j] / theirs, ours[i][j] / ours[i][0]]
    }),
  ),
)

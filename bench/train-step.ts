// Training-step throughput: forward + backward + SGD step, images/s, for ResNet-18 (CIFAR
// layout, 32x32, batch 64) and mn-t, beside PyTorch CPU's on the same architectures (the
// reference modules of scripts/fixtures/models.py) in the same run, 2 threads.
import * as iv from '../src'
import { MetaNet, resnet18 } from '../src/models'
import type { Module } from '../src/nn'
import { hasTorch, printTable, timeIt, torchRun } from './util'

const batch = Number(process.env.BENCH_TRAIN_BATCH ?? 64)
iv.setNumThreads(2)

function stepTime(model: Module, size: number, classes: number): number {
  const opt = new iv.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 })
  const x = iv.randn([batch, 3, size, size])
  const y = iv.randint(0, classes, [batch])
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
  )
}

const cases: [string, () => Module, number, string][] = [
  ['resnet18 (CIFAR, 32px)', () => resnet18({ numClasses: 10, cifar: true }), 32, 'ResNet18Cifar(10)'],
  ['mn-t (32px)', () => new MetaNet('mn-t', { numClasses: 10 }), 32, 'MetaNet(MN_T, 10)'],
]

const ours = cases.map(([, make, size]) => batch / stepTime(make(), size, 10))
const torch = hasTorch
  ? torchRun<number[]>(`
import sys, os
sys.path.insert(0, os.path.join(os.getcwd(), 'scripts', 'fixtures'))
from models import ResNet18Cifar, MetaNet, MN_T
out = []
for make in [lambda: ResNet18Cifar(10), lambda: MetaNet(MN_T, 10)]:
    m = make().train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(${batch}, 3, 32, 32); y = torch.randint(0, 10, (${batch},))
    def step():
        opt.zero_grad(); torch.nn.functional.cross_entropy(m(x), y).backward(); opt.step()
    out.append(${batch} / timeit(step, 5, 2))
print(json.dumps(out))`)
  : null

printTable(
  `training step (forward + backward + SGD), batch ${batch}, 2 threads, images/s (median)`,
  ['model', 'intern-vision', 'PyTorch', 'ratio'],
  cases.map(([name], i) => [name, ours[i], torch ? torch[i] : NaN, torch ? ours[i] / torch[i] : NaN]),
)

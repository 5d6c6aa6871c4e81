// Inference (eval mode, no grad), images/s at 224 px: ResNet-18, ResNet-50 and MN-B4 at batch
// 1 and 64 (BENCH_INFER_BATCHES=1,16 to change), as built and with BatchNorm folded into the
// convs (nn.foldBatchNorm), beside PyTorch CPU eager on the same architectures in the same run
// (2 threads; ResNets written out below, MetaNet from scripts/fixtures/models.py).
import * as iv from '../src'
import { MetaNet, resnet18, resnet50 } from '../src/models'
import type { Module } from '../src/nn'
import { hasTorch, printTable, timeIt, torchMetaNetConfig, torchRun } from './util'

iv.setNumThreads(2)
const batches = (process.env.BENCH_INFER_BATCHES ?? '1,64').split(',').map(Number)
const size = 224

// Small batches warm up for a second, on both sides: a model's first forwards run its
// JavaScript before V8 has optimised it, a cost a long run does not pay and that is a visible
// share of a batch-1 forward.
function imagesPerSecond(model: Module, batch: number): number {
  const x = iv.randn([batch, 3, size, size])
  const forward = () => iv.scope(() => iv.noGrad(() => void model.forward(x)))
  return batch / timeIt(forward, batch > 8 ? 3 : 7, 1, batch > 8 ? 0 : 1)
}

const cases: [string, () => Module, string][] = [
  ['resnet18', () => resnet18({ numClasses: 1000 }), 'resnet(BasicBlock, [2, 2, 2, 2])'],
  ['resnet50', () => resnet50({ numClasses: 1000 }), 'resnet(Bottleneck, [3, 4, 6, 3])'],
  ['mn-b4', () => new MetaNet('mn-b4', { numClasses: 1000 }), 'MetaNet(MN_B4, 1000)'],
]

const ours = cases.map(([, make]) => {
  const model = make()
  model.eval()
  const plain = batches.map((b) => imagesPerSecond(model, b))
  iv.nn.foldBatchNorm(model)
  const folded = batches.map((b) => imagesPerSecond(model, b))
  return { plain, folded }
})

const mnB4 = torchMetaNetConfig('mn-b4')
const torch = hasTorch
  ? torchRun<number[][]>(`
import sys, os
sys.path.insert(0, os.path.join(os.getcwd(), 'scripts', 'fixtures'))
from models import MetaNet
import torch.nn as nn
MN_B4 = json.loads('${JSON.stringify(mnB4)}')

class BasicBlock(nn.Module):
    expansion = 1
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False); self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False); self.bn2 = nn.BatchNorm2d(planes)
        self.down = None
        if stride != 1 or cin != planes:
            self.down = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (self.down(x) if self.down is not None else x))

class Bottleneck(nn.Module):
    expansion = 4
    def __init__(self, cin, planes, stride):
        super().__init__()
        out = planes * 4
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False); self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False); self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False); self.bn3 = nn.BatchNorm2d(out)
        self.down = None
        if stride != 1 or cin != out:
            self.down = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))
    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn3(self.conv3(torch.relu(self.bn2(self.conv2(y)))))
        return torch.relu(y + (self.down(x) if self.down is not None else x))

def resnet(block, layers):
    mods, cin = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)], 64
    for i, n in enumerate(layers):
        planes = 64 * 2 ** i
        for j in range(n):
            mods.append(block(cin, planes, 2 if (j == 0 and i > 0) else 1)); cin = planes * block.expansion
    mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1000)]
    return nn.Sequential(*mods)

out = []
for make in [lambda: ${cases[0][2]}, lambda: ${cases[1][2]}, lambda: ${cases[2][2]}]:
    m = make().eval()
    row = []
    for b in ${JSON.stringify(batches)}:
        x = torch.randn(b, 3, ${size}, ${size})
        def run():
            with torch.no_grad():
                m(x)
        row.append(b / timeit(run, 3 if b > 8 else 7, 1, 0 if b > 8 else 1))
    out.append(row)
print(json.dumps(out))`)
  : null

printTable(
  `inference (eval, no grad), ${size} px, 2 threads, images/s (median)`,
  ['model', 'batch', 'intern-vision', 'BN folded', 'PyTorch', 'ratio', 'ratio folded'],
  cases.flatMap(([name], i) =>
    batches.map((b, j) => {
      const t = torch ? torch[i][j] : NaN
      return [name, b, ours[i].plain[j], ours[i].folded[j], t, ours[i].plain[j] / t, ours[i].folded[j] / t]
    }),
  ),
)

// The ops without a section of their own: elementwise, reductions, views, indexing, pooling,
// resampling, normalisation and the rest, forward + backward at one training-sized shape
// each, beside PyTorch CPU's on the same shapes in the same run (2 threads, median ms).
// `npx tsx bench/ops.ts softmax cat` runs only the cases whose names contain a given word.
import * as iv from '../src'
import { hasTorch, printTable, timeIt, torchRun } from './util'

iv.setNumThreads(2)
iv.manualSeed(0)

// name, intern-vision forward (inputs require grad where differentiable), PyTorch expression
// over the same-named tensors; each case sums its output and runs backward.
const X = [32, 64, 28, 28]
type Case = [string, () => iv.Tensor, string]
const leaf = (shape: number[]) => iv.randn(shape).requiresGrad_()
const x = leaf(X)
const y = leaf(X)
const row = leaf([X[3]])
const logits = leaf([256, 1000])
const table = leaf([10000, 256])
const ids = iv.randint(0, 10000, [64, 128])
const gatherIdx = iv.randint(0, 1000, [256, 100])
const cases: Case[] = [
  ['add (broadcast row)', () => x.add(row), 'x + row'],
  ['mul', () => x.mul(y), 'x * y'],
  ['gelu', () => x.gelu(), 'F.gelu(x)'],
  ['relu', () => x.relu(), 'F.relu(x)'],
  ['sigmoid', () => x.sigmoid(), 'torch.sigmoid(x)'],
  ['hardswish', () => x.hardswish(), 'F.hardswish(x)'],
  ['sum over H, W', () => x.sum([2, 3]), 'x.sum((2, 3))'],
  ['mean over C', () => x.mean(1), 'x.mean(1)'],
  ['max over W', () => x.max(3), 'x.amax(3)'],
  ['var over N', () => x.var(0), 'x.var(0)'],
  ['permute + contiguous', () => x.permute(0, 2, 3, 1).contiguous(), 'x.permute(0, 2, 3, 1).contiguous()'],
  ['cat on C', () => iv.cat([x, y], 1), 'torch.cat([x, y], 1)'],
  ['softmax [256, 1000]', () => iv.softmax(logits, 1), 'F.softmax(logits, 1)'],
  ['logSoftmax [256, 1000]', () => iv.logSoftmax(logits, 1), 'F.log_softmax(logits, 1)'],
  ['softmax over C', () => iv.softmax(x, 1), 'F.softmax(x, 1)'],
  ['logSoftmax over C', () => iv.logSoftmax(x, 1), 'F.log_softmax(x, 1)'],
  ['groupNorm 8 groups', () => iv.groupNorm(x, 8), 'F.group_norm(x, 8)'],
  ['dropout p=0.1', () => iv.dropout(x, 0.1, true), 'F.dropout(x, 0.1, True)'],
  ['embedding [64x128] of [10000, 256]', () => iv.embedding(ids, table), 'F.embedding(ids, table)'],
  ['gather [256, 100] of [256, 1000]', () => iv.gather(logits, 1, gatherIdx), 'torch.gather(logits, 1, gidx)'],
  [
    'indexSelect 4096 rows',
    () => iv.indexSelect(table, 0, ids.flatten().narrow(0, 0, 4096)),
    'torch.index_select(table, 0, ids.flatten()[:4096])',
  ],
  ['maxPool2d 3x3 s2', () => iv.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }), 'F.max_pool2d(x, 3, 2, 1)'],
  ['avgPool2d 2x2', () => iv.avgPool2d(x, { kernelSize: 2 }), 'F.avg_pool2d(x, 2)'],
  ['adaptiveAvgPool2d 1', () => iv.adaptiveAvgPool2d(x, 1), 'F.adaptive_avg_pool2d(x, 1)'],
  ['pad reflect 2', () => iv.pad(x, [2, 2, 2, 2], { mode: 'reflect' }), "F.pad(x, (2, 2, 2, 2), mode='reflect')"],
  [
    'interpolate bilinear x2',
    () => iv.interpolate(x, { scaleFactor: 2, mode: 'bilinear', alignCorners: false }),
    "F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)",
  ],
]
const target = iv.rand(X)
const src = leaf([256, 100])
cases.push(
  ['clamp', () => x.clamp(-0.5, 0.5), 'x.clamp(-0.5, 0.5)'],
  ['pow 3', () => x.pow(3), 'x.pow(3)'],
  ['where', () => iv.where(x.gt(0), x, y), 'torch.where(x > 0, x, y)'],
  [
    'scatterAdd [256, 100] into [256, 1000]',
    () => iv.scatterAdd(logits, 1, gatherIdx, src),
    'logits.scatter_add(1, gidx, src)',
  ],
  ['mseLoss', () => iv.mseLoss(x, y), 'F.mse_loss(x, y)'],
  ['l1Loss', () => iv.l1Loss(x, y), 'F.l1_loss(x, y)'],
  ['smoothL1Loss', () => iv.smoothL1Loss(x, y), 'F.smooth_l1_loss(x, y)'],
  [
    'binaryCrossEntropyWithLogits',
    () => iv.binaryCrossEntropyWithLogits(x, target),
    'F.binary_cross_entropy_with_logits(x, target)',
  ],
  ['cosineSimilarity over C', () => iv.cosineSimilarity(x, y, { dim: 1 }), 'F.cosine_similarity(x, y, dim=1)'],
  ['normalize over C', () => iv.normalize(x, { dim: 1 }), 'F.normalize(x, dim=1)'],
)
const convT = leaf([64, 32, 2, 2])
cases.push([
  'convTranspose2d 64->32 2x2 s2',
  () => iv.convTranspose2d(x, convT, null, { stride: 2 }),
  'F.conv_transpose2d(x, convT, stride=2)',
])

// Most cases take a millisecond or less, where one slow run (a page fault, another process)
// moves a median of a few; 25 runs of each, on both sides, after at least 5 and a quarter of
// a second of warm-up runs (until V8 has optimised the JavaScript on the case's path).
const runs = 25
const warmup = 5
const warmSeconds = 0.25
const words = process.argv.slice(2)
if (words.length)
  cases.splice(
    0,
    cases.length,
    ...cases.filter(([name]) => words.some((w) => name.toLowerCase().includes(w.toLowerCase()))),
  )
const ours = cases.map(
  ([, fn]) =>
    timeIt(
      () =>
        iv.scope(() => {
          fn().sum().backward()
        }),
      runs,
      warmup,
      warmSeconds,
    ) * 1000,
)
const torch = hasTorch
  ? torchRun<number[]>(`
import torch.nn.functional as F
torch.manual_seed(0)
def leaf(*s): return torch.randn(*s, requires_grad=True)
x, y, row = leaf(${X.join(', ')}), leaf(${X.join(', ')}), leaf(${X[3]})
logits, table = leaf(256, 1000), leaf(10000, 256)
ids, gidx = torch.randint(0, 10000, (64, 128)), torch.randint(0, 1000, (256, 100))
convT = leaf(64, 32, 2, 2)
target, src = torch.rand(${X.join(', ')}), leaf(256, 100)
exprs = ${JSON.stringify(cases.map((c) => c[2]))}
out = []
for e in exprs:
    f = eval('lambda: ' + e)
    out.append(timeit(lambda: f().sum().backward(), ${runs}, ${warmup}, ${warmSeconds}) * 1000)
print(json.dumps(out))`)
  : null

printTable(
  `other ops, forward + backward, float32, x = [${X.join(', ')}], 2 threads, median ms`,
  ['op', 'intern-vision', 'PyTorch', 'speed vs PyTorch'],
  cases.map(([name], i) => [name, ours[i], torch ? torch[i] : NaN, torch ? torch[i] / ours[i] : NaN]),
)

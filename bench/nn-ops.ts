// Attention, batchNorm (alone, and with the activation it fuses: PyTorch runs batch_norm, then
// the activation), layerNorm and crossEntropy, forward + backward, beside PyTorch CPU in the
// same run (2 threads, medians). PyTorch 1.13 has no scaled_dot_product_attention:
// its attention figure is the math form softmax(q k^T * scale) v, which materialises the
// L x S scores (ours streams them in tiles).
// Run: node --import tsx bench/nn-ops.ts
import * as iv from '../src'
import { hasTorch, printTable, timeIt, torchRun } from './util'

interface Case {
  name: string
  kind: 'attention' | 'batchNorm' | 'layerNorm' | 'crossEntropy'
  shape: number[] // attention: [batch * heads, L, E]; crossEntropy: [N, C]; norms: the input
  runs: number
  activation?: 'relu' | 'gelu' // batchNorm's
  apart?: boolean // ours as two ops, batchNorm then the activation (PyTorch's side is two ops anyway)
}

// batchNorm with the activation it fuses, and the same as two ops.
const withActivation = (shape: number[], runs: number, activation: 'relu' | 'gelu'): Case[] => [
  { name: `batchNorm + ${activation} train [${shape.join(', ')}]`, kind: 'batchNorm', shape, runs, activation },
  {
    name: `batchNorm, ${activation} apart [${shape.join(', ')}]`,
    kind: 'batchNorm',
    shape,
    runs,
    activation,
    apart: true,
  },
]

const cases: Case[] = [
  { name: 'attention L=196 E=32 BH=48', kind: 'attention', shape: [48, 196, 32], runs: 7 },
  { name: 'attention L=196 E=64 BH=48', kind: 'attention', shape: [48, 196, 64], runs: 7 },
  { name: 'attention L=3136 E=32 BH=2', kind: 'attention', shape: [2, 3136, 32], runs: 3 },
  { name: 'attention L=3136 E=64 BH=2', kind: 'attention', shape: [2, 3136, 64], runs: 3 },
  { name: 'batchNorm train [32, 64, 56, 56]', kind: 'batchNorm', shape: [32, 64, 56, 56], runs: 5 },
  { name: 'batchNorm train [32, 256, 14, 14]', kind: 'batchNorm', shape: [32, 256, 14, 14], runs: 7 },
  ...withActivation([32, 64, 56, 56], 5, 'relu'),
  ...withActivation([64, 96, 8, 8], 15, 'gelu'),
  { name: 'layerNorm [32, 196, 384]', kind: 'layerNorm', shape: [32, 196, 384], runs: 7 },
  { name: 'layerNorm [8, 3136, 64]', kind: 'layerNorm', shape: [8, 3136, 64], runs: 7 },
  { name: 'crossEntropy [256, 1000]', kind: 'crossEntropy', shape: [256, 1000], runs: 15 },
]

iv.setNumThreads(2)

function ours(c: Case): number {
  const g = new iv.Generator(0)
  const leaf = (shape: number[]) => iv.randn(shape, { generator: g }).requiresGrad_()
  let step: () => void
  const params: iv.Tensor[] = []
  if (c.kind === 'attention') {
    const [q, k, v] = [leaf(c.shape), leaf(c.shape), leaf(c.shape)]
    const go = iv.randn(c.shape, { generator: g })
    params.push(q, k, v)
    step = () => iv.scaledDotProductAttention(q, k, v).backward(go)
  } else if (c.kind === 'batchNorm') {
    const C = c.shape[1]
    const x = leaf(c.shape)
    const [w, b] = [leaf([C]), leaf([C])]
    const [rm, rv] = [iv.zeros([C]), iv.ones([C])]
    const go = iv.randn(c.shape, { generator: g })
    params.push(x, w, b)
    const act = c.activation
    step =
      act && c.apart
        ? () => iv[act](iv.batchNorm(x, rm, rv, w, b, { training: true })).backward(go)
        : () => iv.batchNorm(x, rm, rv, w, b, { training: true, activation: act }).backward(go)
  } else if (c.kind === 'layerNorm') {
    const K = c.shape[c.shape.length - 1]
    const x = leaf(c.shape)
    const [w, b] = [leaf([K]), leaf([K])]
    const go = iv.randn(c.shape, { generator: g })
    params.push(x, w, b)
    step = () => iv.layerNorm(x, [K], w, b).backward(go)
  } else {
    const x = leaf(c.shape)
    const target = iv.randint(0, c.shape[1], [c.shape[0]], { generator: g })
    params.push(x)
    step = () => iv.crossEntropy(x, target).backward()
  }
  return timeIt(
    () => {
      iv.scope(step)
      for (const p of params) {
        p.grad?.dispose()
        p.grad = null
      }
    },
    c.runs,
    3,
  )
}

const torchCode = `
import torch.nn.functional as F
cases = json.loads(${JSON.stringify(JSON.stringify(cases))})
out = []
for c in cases:
    s = c['shape']
    torch.manual_seed(0)
    leaf = lambda *shape: torch.randn(*shape).requires_grad_()
    if c['kind'] == 'attention':
        q, k, v = leaf(*s), leaf(*s), leaf(*s)
        go = torch.randn(*s)
        scale = s[2] ** -0.5
        def step():
            (torch.softmax(q @ k.transpose(-1, -2) * scale, -1) @ v).backward(go)
        params = [q, k, v]
    elif c['kind'] == 'batchNorm':
        x, w, b = leaf(*s), leaf(s[1]), leaf(s[1])
        rm, rv = torch.zeros(s[1]), torch.ones(s[1])
        go = torch.randn(*s)
        act = {'relu': F.relu, 'gelu': F.gelu}.get(c.get('activation'), lambda y: y)
        step = lambda: act(F.batch_norm(x, rm, rv, w, b, training=True)).backward(go)
        params = [x, w, b]
    elif c['kind'] == 'layerNorm':
        x, w, b = leaf(*s), leaf(s[-1]), leaf(s[-1])
        go = torch.randn(*s)
        step = lambda: F.layer_norm(x, [s[-1]], w, b).backward(go)
        params = [x, w, b]
    else:
        x = leaf(*s)
        t = torch.randint(0, s[1], (s[0],))
        step = lambda: F.cross_entropy(x, t).backward()
        params = [x]
    def run():
        step()
        for p in params: p.grad = None
    out.append(timeit(run, c['runs'], 3))
print(json.dumps(out))
`

const mine = cases.map(ours)
const torch = hasTorch ? torchRun<number[]>(torchCode) : null
printTable(
  'forward + backward, 2 threads, median ms (PyTorch attention: math form, no fused SDPA in 1.13)',
  ['case', 'intern-vision', 'PyTorch', 'speed vs PyTorch'],
  cases.map((c, i) => [c.name, mine[i] * 1e3, torch ? torch[i] * 1e3 : NaN, torch ? torch[i] / mine[i] : NaN]),
)

import t from 'tap'
import { arange, randn, tensor, zeros } from '../../src/tensor/creation'
import { manualSeed } from '../../src/tensor/random'
import type { Tensor } from '../../src/tensor/tensor'
import { noGrad } from '../../src/autograd/grad-mode'
import { profile } from '../../src/profiler'
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  Dropout,
  DropPath,
  Embedding,
  Flatten,
  GELU,
  GroupNorm,
  Hardsigmoid,
  Hardswish,
  Identity,
  LayerNorm,
  Linear,
  MaxPool2d,
  type Module,
  ModuleList,
  MultiheadAttention,
  ReLU,
  Sequential,
  Sigmoid,
  SiLU,
  Tanh,
} from '../../src/nn'
import { assertClose } from '../helpers'

const arr = (x: Tensor) => Array.from(x.data())
const maxAbs = (x: Tensor) => arr(x).reduce((m, v) => Math.max(m, Math.abs(v)), 0)

t.test('Linear and Conv2d: shapes, torch default init bounds, forward', async (t) => {
  manualSeed(0)
  const lin = new Linear(50, 7)
  t.same(lin.weight.shape, [7, 50])
  t.ok(maxAbs(lin.weight) <= 1 / Math.sqrt(50) && maxAbs(lin.bias!) <= 1 / Math.sqrt(50), 'U(±1/sqrt(fanIn))')
  t.ok(maxAbs(lin.weight) > 0.9 / Math.sqrt(50), 'and fills the range')
  const x = randn([3, 50])
  assertClose(t, arr(lin.forward(x)), arr(x.matmul(lin.weight.t()).add(lin.bias!)), 1e-5, 1e-6, 'x W^T + b')
  const conv = new Conv2d(4, 6, [3, 1], { groups: 2, padding: [1, 0], bias: false })
  t.same(conv.weight.shape, [6, 2, 3, 1])
  t.equal(conv.bias, null)
  t.ok(maxAbs(conv.weight) <= 1 / Math.sqrt(2 * 3))
  t.same(conv.forward(randn([2, 4, 5, 5])).shape, [2, 6, 5, 5])
  t.throws(() => new Conv2d(3, 4, 3, { groups: 2 }), /Conv2d: groups 2 must divide inChannels 3 and outChannels 4/)
  t.throws(() => new Linear(0.5, 2), /Linear: inFeatures must be an integer >= 0, got 0.5/)
  // paddingMode, against values from torch.nn.Conv2d(padding_mode=...).
  const img = arange(0, 12, 1, { dtype: 'float32' }).reshape([1, 1, 3, 4])
  const cases: ['reflect' | 'replicate', number | 'same', number[], number[]][] = [
    ['reflect', 1, [3, 3], [12, 13.8, 17.4, 18, 24, 25.8, 29.4, 30, 21.6, 23.4, 27, 27.6]],
    ['replicate', 1, [3, 3], [9.9, 12.6, 16.2, 18.3, 23.1, 25.8, 29.4, 31.5, 29.1, 31.8, 35.4, 37.5]],
    ['reflect', 'same', [2, 3], [5.8, 6.7, 8.2, 8.3, 11.8, 12.7, 14.2, 14.3, 8.2, 9.1, 10.6, 10.7]],
    ['replicate', 'same', [2, 3], [5.5, 6.7, 8.2, 9, 11.5, 12.7, 14.2, 15, 12.7, 13.9, 15.4, 16.2]],
  ]
  for (const [paddingMode, padding, k, want] of cases) {
    const c = new Conv2d(1, 1, k as [number, number], { padding, paddingMode, bias: false })
    c.weight.copy_(
      arange(0, k[0] * k[1], 1, { dtype: 'float32' })
        .div(10)
        .reshape([1, 1, k[0], k[1]]),
    )
    assertClose(t, arr(c.forward(img)), want, 1e-5, 1e-5, `${paddingMode} padding ${padding}`)
  }
  t.throws(
    () => new Conv2d(1, 1, 3, { paddingMode: 'circular' as never }),
    /Conv2d: paddingMode must be 'zeros', 'reflect' or 'replicate', got 'circular'/,
  )
  const up = new ConvTranspose2d(4, 6, 3, { stride: 2, groups: 2 })
  t.same(up.weight.shape, [4, 3, 3, 3], "torch's [in, out / groups, kh, kw]")
  t.same(up.forward(randn([1, 4, 5, 5])).shape, [1, 6, 11, 11])
  t.same(up.forward(randn([1, 4, 5, 5]), [12, 12]).shape, [1, 6, 12, 12], 'outputSize picks the output padding')
  t.throws(
    () => up.forward(randn([1, 4, 5, 5]), [14, 12]),
    /ConvTranspose2d: outputSize \[14,12\] is not reachable from input \[1, 4, 5, 5\] \(dim 0 can be 11 to 12\)/,
  )
})

t.test('BatchNorm: running statistics in training, used in eval', async (t) => {
  manualSeed(1)
  const bn = new BatchNorm2d(3)
  t.same(Object.keys(bn.stateDict()), ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'])
  const x = randn([4, 3, 2, 2]).mul(2).add(1)
  const y = bn.forward(x)
  const mean = x.mean([0, 2, 3])
  const varUnbiased = x.var([0, 2, 3])
  assertClose(t, arr(bn.running_mean!), arr(mean.mul(0.1)), 1e-5, 1e-6, 'running_mean = 0.9 * 0 + 0.1 * batch mean')
  assertClose(
    t,
    arr(bn.running_var!),
    arr(varUnbiased.mul(0.1).add(0.9)),
    1e-5,
    1e-6,
    'running_var uses the unbiased variance',
  )
  t.equal(bn.num_batches_tracked!.item(), 1)
  assertClose(t, arr(y.mean([0, 2, 3])), [0, 0, 0], 0, 1e-5, 'training normalises with batch statistics')
  bn.eval()
  const z = bn.forward(x)
  const expected = x
    .sub(bn.running_mean!.reshape([1, 3, 1, 1]))
    .div(bn.running_var!.add(1e-5).sqrt().reshape([1, 3, 1, 1]))
  assertClose(t, arr(z), arr(expected), 1e-5, 1e-5, 'eval normalises with the running statistics')
  t.equal(bn.num_batches_tracked!.item(), 1, 'eval does not count batches')
  // momentum null: a cumulative average over batches.
  const cum = new BatchNorm1d(2, { momentum: null })
  const a = randn([5, 2])
  const b = randn([5, 2])
  cum.forward(a)
  cum.forward(b)
  assertClose(t, arr(cum.running_mean!), arr(a.mean(0).add(b.mean(0)).div(2)), 1e-5, 1e-6, 'cumulative mean')
  t.throws(() => bn.forward(randn([2, 3])), /BatchNorm2d: expected a 4-d input \[N, C, H, W\], got \[2, 3\]/)
  const noStats = new BatchNorm2d(3, { trackRunningStats: false, affine: false })
  t.same(Object.keys(noStats.stateDict()), [])
  noStats.eval()
  assertClose(
    t,
    arr(noStats.forward(x).mean([0, 2, 3])),
    [0, 0, 0],
    0,
    1e-5,
    'no running stats: batch statistics even in eval',
  )
})

t.test('LayerNorm and GroupNorm', async (t) => {
  const ln = new LayerNorm([2, 3])
  t.same(ln.weight!.shape, [2, 3])
  const y = ln.forward(randn([4, 2, 3]).mul(3))
  assertClose(t, arr(y.mean([1, 2])), [0, 0, 0, 0], 0, 1e-5, 'zero mean per sample')
  t.equal(new LayerNorm(4, { bias: false }).bias, null)
  const gn = new GroupNorm(2, 4)
  const z = gn.forward(randn([3, 4, 2, 2]).add(5))
  assertClose(t, arr(z.reshape([3, 2, 8]).mean(2)), new Array(6).fill(0), 0, 1e-5, 'zero mean per group')
  t.throws(() => new GroupNorm(3, 4), /GroupNorm: numChannels 4 must be divisible by numGroups 3/)
})

t.test('Dropout and DropPath: train versus eval', async (t) => {
  manualSeed(2)
  const drop = new Dropout(0.25)
  const x = zeros([4000]).add(1)
  const y = arr(drop.forward(x))
  const zerosFrac = y.filter((v) => v === 0).length / y.length
  t.ok(Math.abs(zerosFrac - 0.25) < 0.03, `about a quarter dropped (${zerosFrac})`)
  t.ok(
    y.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6),
    'the rest scaled by 1/(1-p)',
  )
  drop.eval()
  t.same(arr(drop.forward(x)), arr(x), 'identity in eval')
  t.throws(() => new Dropout(1.5), /Dropout: p must be a probability in \[0, 1\], got 1.5/)

  const dp = new DropPath(0.5)
  const h = randn([400, 3, 2]).abs().add(0.1)
  const out = dp.forward(h).reshape([400, 6])
  const rows = out.toArray() as number[][]
  const hr = h.reshape([400, 6]).toArray() as number[][]
  let dropped = 0
  const partial = rows.findIndex((r, i) => {
    if (r.every((v) => v === 0)) {
      dropped++
      return false
    }
    return !r.every((v, j) => Math.abs(v - 2 * hr[i][j]) < 1e-5)
  })
  t.equal(partial, -1, 'each sample is dropped whole or kept whole, scaled by 1/(1-p)')
  t.ok(dropped > 150 && dropped < 250, `about half the samples dropped whole (${dropped})`)
  dp.eval()
  t.equal(dp.forward(h), h, 'identity in eval')
})

t.test('Embedding: lookup and paddingIdx', async (t) => {
  const emb = new Embedding(5, 3, { paddingIdx: -1 })
  t.equal(emb.paddingIdx, 4)
  t.same(arr(emb.weight.select(0, 4)), [0, 0, 0], 'the padding row starts at zero')
  const idx = tensor(
    [
      [1, 4],
      [0, 1],
    ],
    { dtype: 'int32' },
  )
  const y = emb.forward(idx)
  t.same(y.shape, [2, 2, 3])
  t.same(arr(y.select(0, 0).select(0, 0)), arr(emb.weight.select(0, 1)))
  y.sum().backward()
  t.same(arr(emb.weight.grad!.select(0, 4)), [0, 0, 0], 'no gradient to the padding row')
  t.same(arr(emb.weight.grad!.select(0, 1)), [2, 2, 2])
})

t.test('MultiheadAttention: layout, masks, fused path, batchFirst', async (t) => {
  manualSeed(3)
  const mha = new MultiheadAttention(8, 2)
  t.same(Object.keys(mha.stateDict()), ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias'])
  t.same(mha.in_proj_weight!.shape, [24, 8])
  const x = randn([5, 3, 8]) // [L, N, E]
  const [y, w] = mha.forward(x, x, x)
  t.same(y.shape, [5, 3, 8])
  t.same(w!.shape, [3, 5, 5])
  assertClose(t, arr(w!.sum(-1)), new Array(15).fill(1), 1e-5, 1e-6, 'weights are distributions')
  const [yFused, none] = mha.forward(x, x, x, { needWeights: false })
  t.equal(none, null)
  assertClose(t, arr(yFused), arr(y), 1e-4, 1e-5, 'the fused kernel agrees')
  // Separate key/value tensors take the unpacked projections.
  const kv = randn([7, 3, 8])
  const [yc, wc] = mha.forward(x, kv, kv, { averageAttnWeights: false })
  t.same(yc.shape, [5, 3, 8])
  t.same(wc!.shape, [3, 2, 5, 7])
  // A bool mask (true = blocked) and the same mask as -inf floats agree; blocked weights are 0.
  const blocked = tensor([[false, true, false, false, true, false, false]])
    .expand([5, 7])
    .contiguous()
  const [yb, wb] = mha.forward(x, kv, kv, { attnMask: blocked })
  const floatMask = zeros([5, 7]).add(blocked.to('float32').mul(-1e9))
  const [yf] = mha.forward(x, kv, kv, { attnMask: floatMask })
  assertClose(t, arr(yb), arr(yf), 1e-5, 1e-6, 'bool and float masks agree')
  t.same(
    [arr(wb!.select(2, 1)), arr(wb!.select(2, 4))].flat().every((v) => v === 0),
    true,
    'blocked keys get no weight',
  )
  const [, wk] = mha.forward(x, kv, kv, {
    keyPaddingMask: tensor([
      [false, false, false, false, false, false, true],
      [true, false, false, false, false, false, false],
      [false, false, false, false, false, false, false],
    ]),
  })
  t.equal(maxAbs(wk!.select(0, 0).select(1, 6)), 0, 'padded key of sample 0')
  t.equal(maxAbs(wk!.select(0, 1).select(1, 0)), 0, 'padded key of sample 1')
  const [yCausal, wCausal] = mha.forward(x, x, x, { isCausal: true })
  const wc0 = wCausal!.select(0, 0).toArray() as number[][]
  t.ok(
    wc0.every((row, i) => row.every((v, j) => j <= i || v === 0)),
    'causal: no weight above the diagonal',
  )
  assertClose(
    t,
    arr(mha.forward(x, x, x, { isCausal: true, needWeights: false })[0]),
    arr(yCausal),
    1e-4,
    1e-5,
    'fused causal agrees',
  )
  // batchFirst only transposes.
  const bf = new MultiheadAttention(8, 2, { batchFirst: true })
  bf.loadStateDict(mha.stateDict())
  const xb = x.transpose(0, 1).contiguous()
  assertClose(t, arr(bf.forward(xb, xb, xb)[0]), arr(y.transpose(0, 1)), 1e-5, 1e-6, 'batchFirst')
  // Unbatched [L, E] input.
  assertClose(
    t,
    arr(mha.forward(x.select(1, 0), x.select(1, 0), x.select(1, 0))[0]),
    arr(y.select(1, 0)),
    1e-5,
    1e-6,
    'unbatched',
  )
  const kd = new MultiheadAttention(8, 4, { kdim: 6, vdim: 5 })
  t.same(Object.keys(kd.stateDict()), [
    'q_proj_weight',
    'k_proj_weight',
    'v_proj_weight',
    'in_proj_bias',
    'out_proj.weight',
    'out_proj.bias',
  ])
  t.same(kd.forward(randn([2, 1, 8]), randn([3, 1, 6]), randn([3, 1, 5]))[0].shape, [2, 1, 8])
  t.throws(
    () => mha.forward(x, randn([7, 3, 6]), kv),
    /MultiheadAttention: query \[5, 3, 8\], key \[7, 3, 6\] and value \[7, 3, 8\] do not fit embedDim 8, kdim 8/,
  )
  t.throws(
    () => mha.forward(x, kv, kv, { attnMask: zeros([5, 5]) }),
    /attnMask \[5, 5\] must be \[5, 7\] or \[6, 5, 7\]/,
  )
  t.throws(() => new MultiheadAttention(10, 3), /embedDim 10 must be divisible by numHeads 3/)
})

t.test('containers, activations, flatten and pooling', async (t) => {
  const seq = Sequential.named([
    ['fc', new Linear(4, 3)],
    ['act', new ReLU()],
    ['out', new Linear(3, 2)],
  ])
  t.same(Object.keys(seq.stateDict()), ['fc.weight', 'fc.bias', 'out.weight', 'out.bias'])
  t.equal(seq.length, 3)
  t.equal(seq.get(-1), seq.get(2))
  t.same(seq.forward(randn([5, 4])).shape, [5, 2])
  t.throws(() => seq.get(3), /Sequential.get: index 3 is out of range for 3 modules/)
  t.throws(() => new Sequential(new ReLU(), 3 as never), /Sequential: argument 1: expected a Module, got number/)
  const list = new ModuleList<Linear>([new Linear(2, 2)])
  list.append(new Linear(2, 2))
  t.same([...list].length, 2)
  t.same(Object.keys(list.stateDict()), ['0.weight', '0.bias', '1.weight', '1.bias'])
  t.throws(() => list.forward(), /ModuleList: has no forward\(\)/)

  const x = tensor([-2, -0.5, 0, 0.5, 2])
  const cases: [string, { forward(x: Tensor): Tensor }, number[]][] = [
    ['ReLU', new ReLU(), [0, 0, 0, 0.5, 2]],
    ['GELU', new GELU(), [-0.0455003, -0.1542688, 0, 0.3457312, 1.9544997]],
    ['GELU tanh', new GELU('tanh'), [-0.0454023, -0.1542859, 0, 0.3457141, 1.9545977]],
    ['SiLU', new SiLU(), [-0.2384058, -0.1887703, 0, 0.3112297, 1.7615942]],
    ['Hardsigmoid', new Hardsigmoid(), [1 / 6, 5 / 12, 0.5, 7 / 12, 5 / 6]],
    ['Hardswish', new Hardswish(), [-1 / 3, -5 / 24, 0, 7 / 24, 5 / 3]],
    ['Tanh', new Tanh(), [-0.9640276, -0.4621172, 0, 0.4621172, 0.9640276]],
    ['Sigmoid', new Sigmoid(), [0.1192029, 0.3775407, 0.5, 0.6224593, 0.8807971]],
    ['Identity', new Identity(), [-2, -0.5, 0, 0.5, 2]],
  ]
  for (const [name, m, want] of cases) assertClose(t, arr(m.forward(x)), want, 1e-5, 1e-6, name)

  const img = arange(0, 32, 1, { dtype: 'float32' }).reshape([1, 2, 4, 4])
  t.same(new Flatten().forward(img).shape, [1, 32])
  t.same(arr(new MaxPool2d(2).forward(img)), [5, 7, 13, 15, 21, 23, 29, 31])
  t.same(arr(new AvgPool2d(2, { stride: 2 }).forward(img)), [2.5, 4.5, 10.5, 12.5, 18.5, 20.5, 26.5, 28.5])
  t.same(arr(new AdaptiveAvgPool2d(1).forward(img)), [7.5, 23.5])
  t.match(new MaxPool2d(2).toString(), /^MaxPool2d\(kernelSize=2/)
})

t.test('Sequential runs a batch norm and the ReLU, GELU or SiLU after it as one kernel', async (t) => {
  manualSeed(5)
  class DoubledGELU extends GELU {
    override forward(x: Tensor): Tensor {
      return super.forward(x).mul(2)
    }
  }
  const cases: [string, () => Module, boolean][] = [
    ['ReLU', () => new ReLU(), true],
    ['GELU', () => new GELU(), true],
    ['SiLU', () => new SiLU(), true],
    ["GELU('tanh')", () => new GELU('tanh'), false],
    ['a GELU subclass', () => new DoubledGELU(), false],
    ['Tanh', () => new Tanh(), false],
  ]
  for (const [name, make, fuses] of cases) {
    const bn = new BatchNorm2d(3)
    noGrad(() => {
      bn.weight!.copy_(tensor([0.5, 1.5, -1]))
      bn.bias!.copy_(tensor([0.1, -0.2, 0.3]))
    })
    const act = make()
    const seq = new Sequential(bn, act)
    const x = randn([4, 3, 8, 8]) // planes of 64: the float32 kernel fuses from there on
    const g = randn([4, 3, 8, 8])
    // The same modules, one after the other or as the Sequential, from the same running stats.
    const run = (f: (x: Tensor) => Tensor) => {
      bn.resetRunningStats()
      bn.zeroGrad()
      const xv = x.detach().requiresGrad_()
      const { value: y, rows } = profile(() => f(xv), { print: false })
      y.backward(g)
      const kernels = rows.filter((r) => r.kind === 'kernel' && r.pass === 'forward').map((r) => r.name)
      return { y, gx: xv.grad as Tensor, gw: bn.weight!.grad as Tensor, rm: bn.runningMean!.clone(), kernels }
    }
    const fused = run((v) => seq.forward(v))
    const apart = run((v) => act.forward(bn.forward(v)) as Tensor)
    for (const k of ['y', 'gx', 'gw', 'rm'] as const)
      assertClose(t, fused[k].data(), apart[k].data(), 1e-5, 1e-5, `${name}: ${k}`)
    // Fused, the activation's own kernel is gone (the rest count the norm's batches).
    const own = apart.kernels.filter((k) => !fused.kernels.includes(k))
    t.same(own, fuses ? [name.toLowerCase()] : [], `${name}: forward kernels ${fused.kernels}`)
  }
  // A batch norm whose forward was replaced keeps it: that forward, then the activation.
  class DoubledNorm extends BatchNorm2d {
    override forward(x: Tensor): Tensor {
      return super.forward(x).mul(2)
    }
  }
  const x = randn([2, 3, 8, 8])
  const doubled = new DoubledNorm(3)
  const viaSequential = new Sequential(doubled, new ReLU()).forward(x)
  doubled.resetRunningStats()
  assertClose(t, viaSequential.data(), doubled.forward(x).relu().data(), 1e-6, 1e-6, 'a subclass keeps its forward')
  t.throws(
    () => new BatchNorm2d(2).forwardActivated(randn([2, 2, 3, 3]), 'tanh' as 'relu'),
    /BatchNorm2d.forwardActivated: activation must be 'relu', 'gelu' or 'silu', got 'tanh'/,
  )
})

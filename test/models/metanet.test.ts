// MetaNet: parameter counts from the configuration (the published ones included), the
// builder against that count, multi-scale feature shapes, clear errors, the initial state
// the facts prescribe, and a training step that lowers the loss.
import t from 'tap'
import { crossEntropy, manualSeed, randn, tensor, type Tensor } from '../../src'
import { BatchNorm2d } from '../../src/nn'
import { SGD } from '../../src/optim'
import { countParameters, metaNetConfig, MetaNet, type MetaNetConfig } from '../../src/models/metanet'

t.test('mn-b4 with a 1000-class head has 31.7M parameters; mn-b15 about 1.0B', async (t) => {
  const b4 = countParameters('mn-b4', 1000)
  t.ok(Math.abs(b4 - 31.7e6) <= 0.05e6, `mn-b4: ${b4}`)
  t.equal(b4, 31_705_992, 'the exact count documented in docs/models.md')
  const b15 = countParameters('mn-b15', 1000)
  t.ok(Math.abs(b15 - 1.0e9) <= 0.05e9, `mn-b15: ${b15}`)
  t.equal(countParameters('mn-b4', 0), b4 - (1280 * 1000 + 1000), 'numClasses 0 drops exactly the classifier')
})

t.test('the small configs are in their budgets and use every block type', async (t) => {
  const tiny = countParameters('mn-t')
  const small = countParameters('mn-s')
  t.ok(tiny >= 0.3e6 && tiny <= 0.6e6, `mn-t: ${tiny}`)
  t.ok(small >= 2e6 && small <= 4e6, `mn-s: ${small}`)
  for (const name of ['mn-t', 'mn-s'])
    t.same(
      new Set(metaNetConfig(name).stages.map((s) => s.block)),
      new Set(['mbconv', 'fusedMbconv', 'sa', 'xca']),
      `${name} block types`,
    )
})

t.test('the builder allocates exactly what countParameters counts', async (t) => {
  // A config that hits every branch: fused with and without expansion, MBConv with stride
  // and expansion 1, attention blocks that downsample, widen at stride 1, and repeat.
  const custom: MetaNetConfig = {
    ...metaNetConfig('mn-t'),
    name: 'branches',
    stages: [
      { block: 'fusedMbconv', repeats: 2, expansion: 1, channels: 24, stride: 1, headDim: 8 },
      { block: 'fusedMbconv', repeats: 1, expansion: 2, channels: 24, stride: 2, headDim: 8 },
      { block: 'mbconv', repeats: 2, expansion: 1, channels: 32, stride: 2, headDim: 8 },
      { block: 'xca', repeats: 2, expansion: 2, channels: 48, stride: 1, headDim: 8 },
      { block: 'sa', repeats: 2, expansion: 3, channels: 48, stride: 2, headDim: 16 },
    ],
    outStages: [0, 4],
  }
  for (const c of ['mn-t', 'mn-s', custom] as const) {
    const m = new MetaNet(c)
    t.equal(m.numParameters(), countParameters(c), `${typeof c === 'string' ? c : c.name}: ${m.numParameters()}`)
  }
  const m = new MetaNet(custom)
  const feats = m.forwardFeatures(randn([1, 3, 24, 24]))
  t.same(
    feats.map((f) => f.shape),
    [
      [1, 24, 12, 12],
      [1, 48, 2, 2],
    ],
  )
})

t.test('forwardFeatures gives stages 1, 2, 4, 5 at strides 4, 8, 16, 32; forward gives logits', async (t) => {
  manualSeed(1)
  const m = new MetaNet('mn-t')
  t.same(m.featureChannels, [24, 48, 64, 128])
  for (const size of [32, 64]) {
    const x = randn([2, 3, size, size])
    t.same(
      m.forwardFeatures(x).map((f) => f.shape),
      [4, 8, 16, 32].map((s, i) => [2, m.featureChannels[i], size / s, size / s]),
      `${size} px`,
    )
    t.same(m.forward(x).shape, [2, 10])
    t.same(m.forwardPooled(x).shape, [2, 512])
  }
  // Odd sizes round up at each stride (max-pool and 3x3 convs with padding 1).
  t.same(
    m.forwardFeatures(randn([1, 3, 28, 28])).map((f) => f.shape.slice(2)),
    [
      [7, 7],
      [4, 4],
      [2, 2],
      [1, 1],
    ],
  )
  const gray = new MetaNet('mn-t', { inChannels: 1, numClasses: 0 })
  t.same(gray.forward(randn([2, 1, 28, 28])).shape, [2, 512], 'numClasses 0 returns the pooled feature')
})

t.test('parameter names follow the released code', async (t) => {
  const names = Object.keys(new MetaNet('mn-t').stateDict())
  for (const k of [
    'stem.0.weight',
    'stem.1.running_var',
    'blocks.0.b2.0.fc1.weight',
    'blocks.1.residual.1.weight',
    'blocks.1.b1.1.weight',
    'blocks.1.b2.3.fc2.bias',
    'blocks.5.pos_embed.weight',
    'blocks.5.attn.qkv.weight',
    'blocks.5.gamma_1',
    'blocks.6.gamma_2',
    'blocks.6.mlp.fc1.weight',
    'blocks.7.attn.temperature',
    'head.0.weight',
    'head.1.weight',
    'classifier.weight',
  ])
    t.ok(names.includes(k), k)
  t.notOk(names.includes('blocks.5.mlp.fc1.weight'), 'a downsampling attention block has no MLP')
})

t.test('initial state: last BN of conv blocks at zero, layer scale at 1e-6, temperature at 1', async (t) => {
  const m = new MetaNet('mn-t')
  const sd = m.stateDict()
  const all = (k: string, v: number) => Array.from(sd[k].data()).every((x) => x === Math.fround(v))
  t.ok(all('blocks.1.b2.5.weight', 0), 'MBConv project BN weight')
  t.ok(all('blocks.0.b2.2.weight', 0), 'FusedMBConv project BN weight')
  t.ok(all('blocks.6.gamma_1', 1e-6) && all('blocks.6.gamma_2', 1e-6), 'layer scale')
  t.ok(all('blocks.7.attn.temperature', 1), 'XCA temperature')
  t.ok(m.modules().filter((x) => x instanceof BatchNorm2d).length > 10)
  const rates = metaNetConfig('mn-b15')
  t.equal(rates.dropPathRate, 0.3)
  const last = new MetaNet({ ...metaNetConfig('mn-t'), dropPathRate: 0.2 }).blocks.get(-1) as unknown as {
    drop_path: { p: number }
  }
  t.equal(last.drop_path.p, 0.2, 'drop path rises to the rate at the last block')
})

t.test('clear errors', async (t) => {
  const m = new MetaNet('mn-t')
  t.throws(
    () => m.forward(randn([2, 1, 32, 32])),
    /MetaNet 'mn-t': expected an input \[N, 3, H, W\], got \[2, 1, 32, 32\]/,
  )
  t.throws(() => new MetaNet('mn-x'), /unknown MetaNet 'mn-x'; known: mn-b4, mn-b15, mn-t, mn-s/)
  const bad = metaNetConfig('mn-t')
  bad.stages[3].headDim = 5
  t.throws(() => new MetaNet(bad), /stage 3: headDim 5 must divide the block input width 48/)
  t.throws(() => metaNetConfig('mn-t', { outStages: [2, 1] }), /outStages must be increasing/)
  const wrongType = metaNetConfig('mn-t')
  ;(wrongType.stages[0] as { block: string }).block = 'conv'
  t.throws(() => countParameters(wrongType), /stage 0: block must be one of mbconv, fusedMbconv, sa, xca, got 'conv'/)
})

t.test('a few SGD steps in train mode lower the loss on a fixed batch', async (t) => {
  manualSeed(3)
  const m = new MetaNet('mn-t', { dropPathRate: 0.1 }).train()
  const x = randn([8, 3, 32, 32])
  const y = tensor(Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]))
  const opt = new SGD(m.parameters(), { lr: 0.05, momentum: 0.9 })
  const losses: number[] = []
  for (let i = 0; i < 8; i++) {
    opt.zeroGrad()
    const loss: Tensor = crossEntropy(m.forward(x), y)
    loss.backward()
    opt.step()
    losses.push(loss.item())
  }
  t.ok(losses.every(Number.isFinite), `losses ${losses.map((l) => l.toFixed(3)).join(' ')}`)
  t.ok(losses[7] < losses[0] * 0.8, 'the loss fell by more than 20%')
})

// foldBatchNorm: eval-mode BatchNorm folded into the conv before it gives the same outputs
// (float64 to round-off, float32 within its rounding), finds every pair in ResNet and MetaNet,
// and refuses to train or to fold a training-mode norm.
import t from 'tap'
import * as iv from '../../src'
import { MetaNet, resnet18 } from '../../src/models'
import { assertClose } from '../helpers'

/** Real running statistics and non-trivial affine parameters in every norm. */
function settle(model: iv.nn.Module, input: number[]): void {
  for (const m of model.modules())
    if (m instanceof iv.nn.BatchNorm2d && m.weight) {
      iv.noGrad(() => {
        m.weight!.copy_(iv.rand(m.weight!.shape, { dtype: m.weight!.dtype }).add(0.5))
        m.bias!.copy_(iv.randn(m.bias!.shape, { dtype: m.bias!.dtype }))
      })
    }
  model.train()
  iv.noGrad(() => {
    for (let i = 0; i < 3; i++) model.forward(iv.randn(input, { dtype: model.parameters()[0].dtype }))
  })
  model.eval()
}

t.test('one conv and norm: exact in float64 for bias, groups and reflect padding', async (t) => {
  iv.manualSeed(1)
  const conv = new iv.nn.Conv2d(4, 6, 3, { padding: 1, groups: 2, paddingMode: 'reflect', dtype: 'float64' })
  const bn = new iv.nn.BatchNorm2d(6, { dtype: 'float64' })
  const model = new iv.nn.Sequential(conv, bn)
  settle(model, [2, 4, 5, 5])
  const x = iv.randn([2, 4, 5, 5], { dtype: 'float64' })
  const before = iv.noGrad(() => model.forward(x) as iv.Tensor).data()
  t.same(iv.nn.foldBatchNorm(model), ['0'])
  t.equal(bn.foldedInto, '0')
  assertClose(t, iv.noGrad(() => model.forward(x) as iv.Tensor).data(), before, 1e-12, 1e-12, 'folded output')
  t.same(iv.nn.foldBatchNorm(model), [], 'a second call finds nothing left to fold')
})

t.test('ResNet-18: every norm folds (stem, blocks, downsamples), outputs unchanged', async (t) => {
  iv.manualSeed(2)
  const model = resnet18({ numClasses: 10, cifar: true })
  settle(model, [4, 3, 16, 16])
  const x = iv.randn([4, 3, 16, 16])
  const before = iv.noGrad(() => model.forward(x) as iv.Tensor).data()
  const folded = iv.nn.foldBatchNorm(model)
  const norms = model.modules().filter((m) => m instanceof iv.nn.BatchNorm2d)
  t.equal(folded.length, norms.length, `all ${norms.length} norms folded`)
  t.ok(folded.includes('conv1') && folded.includes('layer2.0.conv2') && folded.includes('layer2.0.downsample.0'))
  const after = iv.noGrad(() => model.forward(x) as iv.Tensor).data()
  assertClose(t, after, before, 1e-4, 1e-4, 'logits')
})

t.test('MetaNet mn-t: every conv -> norm pair folds, pre-norms stay, outputs unchanged', async (t) => {
  iv.manualSeed(3)
  const model = new MetaNet('mn-t', { numClasses: 10 })
  settle(model, [2, 3, 32, 32])
  const x = iv.randn([2, 3, 32, 32])
  const before = iv.noGrad(() => model.forward(x) as iv.Tensor).data()
  const folded = iv.nn.foldBatchNorm(model)
  t.ok(folded.includes('stem.0') && folded.includes('head.0'), `${folded.length} folded`)
  // A norm stays only where no conv feeds it (the pre-norm opening each expansion).
  for (const [name, m] of model.namedModules())
    if (m instanceof iv.nn.BatchNorm2d && m.foldedInto === null) t.match(name, /\.b1\.0$/, `${name} is a pre-norm`)
  const after = iv.noGrad(() => model.forward(x) as iv.Tensor).data()
  assertClose(t, after, before, 1e-3, 1e-3, 'logits')
})

t.test('a folded norm refuses to train; a training-mode norm refuses to fold', async (t) => {
  const model = new iv.nn.Sequential(new iv.nn.Conv2d(2, 3, 1), new iv.nn.BatchNorm2d(3))
  t.throws(
    () => iv.nn.foldBatchNorm(model),
    /foldBatchNorm: 0's BatchNorm is in training mode; call model.eval\(\) first/,
  )
  model.eval()
  iv.nn.foldBatchNorm(model)
  model.train()
  t.throws(() => model.forward(iv.randn([1, 2, 4, 4])), /BatchNorm2d: folded into 0 for inference/)
  const untracked = new iv.nn.Sequential(
    new iv.nn.Conv2d(2, 3, 1),
    new iv.nn.BatchNorm2d(3, { trackRunningStats: false }),
  )
  untracked.eval()
  t.throws(() => iv.nn.foldBatchNorm(untracked), /keeps no running statistics/)
})

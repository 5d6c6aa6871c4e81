// FLOPs (multiply-accumulates) against hand counts, against a count taken from the shapes a
// real forward pass produces, and against the published MN-B4 figures.
import t from 'tap'
import * as iv from '../../src'
import { Rng } from '../../src/data/rng'
import { metaNetConfig } from '../../src/models/metanet/config'
import type { BlockSpec } from '../../src/models/metanet/blocks'
import { SelfAttention } from '../../src/models/layers/attention'
import { CrossCovarianceAttention } from '../../src/models/metanet/attention-blocks'
import { SEARCH_SPACES, analyticCost, blockMacs, cardinalities, countMacs, genomeToConfig } from '../../src/search'

const spec = (inChannels: number, outChannels: number, stride: number, expansion: number, headDim = 8): BlockSpec => ({
  inChannels,
  outChannels,
  stride,
  expansion,
  headDim,
  dropPath: 0,
  layerScaleInit: 1e-6,
})

t.test('block MACs against hand counts', async (t) => {
  // MBConv 8 -> 16, stride 2, expansion 4, on 8x8: hidden 32, output 4x4.
  // expand 1x1 at 8x8: 8*32*64; depthwise 3x3: 32*9*16; SE 32 -> 8 -> 32: 2*32*8;
  // project 1x1: 32*16*16; shortcut 1x1 after max-pool: 8*16*16.
  t.equal(
    blockMacs('mbconv', spec(8, 16, 2, 4), 8, 8),
    8 * 32 * 64 + 32 * 9 * 16 + 2 * 32 * 8 + 32 * 16 * 16 + 8 * 16 * 16,
  )
  // MBConv 16 -> 16, stride 1, expansion 1: no expand conv, no shortcut conv; SE squeezes 16 -> 8.
  t.equal(blockMacs('mbconv', spec(16, 16, 1, 1), 4, 4), 16 * 9 * 16 + 2 * 16 * 8 + 16 * 16 * 16)
  // FusedMBConv 8 -> 8 expansion 2 on 6x6: 3x3 8 -> 16, SE 16 -> 8 -> 16, 1x1 16 -> 8.
  t.equal(blockMacs('fusedMbconv', spec(8, 8, 1, 2), 6, 6), 8 * 16 * 9 * 36 + 2 * 16 * 8 + 16 * 8 * 36)
  // FusedMBConv 8 -> 16 expansion 1, stride 2 on 6x6: SE at the input, 3x3 s2 projection to 3x3, shortcut.
  t.equal(blockMacs('fusedMbconv', spec(8, 16, 2, 1), 6, 6), 2 * 8 * 8 + 8 * 16 * 9 * 9 + 8 * 16 * 9)
  // SA 16 -> 16 on 4x4 (16 tokens), MLP ratio 2: pos-embed dw 3x3 16*9*16; qkv 16*16*48;
  // q k^T and attn v: 2 * 16*16 tokens^2 * 16; proj 16*16*16; MLP 2 * 16*16*32.
  t.equal(
    blockMacs('sa', spec(16, 16, 1, 2), 4, 4),
    16 * 9 * 16 + 16 * 16 * 48 + 2 * 16 * 16 * 16 + 16 * 16 * 16 + 2 * 16 * 16 * 32,
  )
  // SA 16 -> 32 stride 2 on 4x4: pos-embed at 4x4, attention over the 2x2 pooled tokens, no MLP,
  // proj 16 -> 32, shortcut 1x1 16 -> 32 at 2x2.
  t.equal(
    blockMacs('sa', spec(16, 32, 2, 2), 4, 4),
    16 * 9 * 16 + 4 * 16 * 48 + 2 * 4 * 4 * 16 + 4 * 16 * 32 + 4 * 16 * 32,
  )
  // XCA 16 -> 16 head dim 8 on 4x4: mixing is tokens x headDim^2 per head, twice: 2 * 16 * 2 heads * 64.
  t.equal(
    blockMacs('xca', spec(16, 16, 1, 2, 8), 4, 4),
    16 * 9 * 16 + 16 * 16 * 48 + 2 * 16 * 2 * 64 + 16 * 16 * 16 + 2 * 16 * 16 * 32,
  )
})

/** MACs read off a real forward: each conv, linear and attention product from the shapes it actually saw. */
function measuredMacs(model: iv.MetaNet, size: number): number {
  let macs = 0
  for (const m of model.modules()) {
    const forward = m.forward.bind(m) as (...a: unknown[]) => iv.Tensor
    if (m instanceof iv.nn.Conv2d) {
      m.forward = (x: iv.Tensor) => {
        const y = forward(x)
        const [cout, cinPerGroup, kh, kw] = m.weight.shape
        macs += cout * cinPerGroup * kh * kw * y.shape[2] * y.shape[3]
        return y
      }
    } else if (m instanceof iv.nn.Linear) {
      m.forward = (x: iv.Tensor) => {
        macs += (x.numel / m.inFeatures) * m.inFeatures * m.outFeatures
        return forward(x)
      }
    } else if (m instanceof SelfAttention) {
      const xca = m instanceof CrossCovarianceAttention
      m.forward = (x: iv.Tensor) => {
        const [, L, C] = x.shape
        macs += xca ? 2 * L * C * m.headDim : 2 * L * L * C
        return forward(x)
      }
    }
  }
  iv.scope(() => iv.noGrad(() => model.eval().forward(iv.rand([1, 3, size, size]))))
  return macs
}

t.test('countMacs equals the count read off a real forward pass', async (t) => {
  const tiny = SEARCH_SPACES.tiny
  const rng = new Rng(11)
  const configs = [
    metaNetConfig('mn-t'),
    ...Array.from({ length: 5 }, () =>
      genomeToConfig(
        tiny,
        cardinalities(tiny).map((n) => rng.int(0, n)),
      ),
    ),
  ]
  for (const [i, config] of configs.entries()) {
    for (const size of [32, 40])
      t.equal(
        countMacs(config, size).total,
        measuredMacs(new iv.MetaNet(config), size),
        `config ${i} (${config.stages.map((s) => s.block).join(',')}) at ${size} px`,
      )
  }
})

t.test('MN-B4 against the published 31.7M parameters and 3.17 GFLOPs (MACs) at 224 px', async (t) => {
  const cost = analyticCost(metaNetConfig('mn-b4'), 224)
  t.equal(Math.round(cost.params / 1e5) / 10, 31.7, `params ${cost.params}`)
  t.ok(
    Math.abs(cost.macs / 3.17e9 - 1) < 0.005,
    `MACs ${cost.macs} within 0.5% of 3.17e9 (2 x MACs would be ${((2 * cost.macs) / 1e9).toFixed(2)}G)`,
  )
})

t.test('cost input checks', async (t) => {
  t.throws(() => countMacs(metaNetConfig('mn-t'), 0), /countMacs: imageSize must be a positive integer, got 0/)
})

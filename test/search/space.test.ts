// The search space: every genome builds a valid network, genomes and configs map to each other,
// the published/zoo configs lie in their spaces, and bad input is named.
import t from 'tap'
import * as iv from '../../src'
import { Rng } from '../../src/data/rng'
import { countParameters } from '../../src/models/metanet/metanet'
import { metaNetConfig } from '../../src/models/metanet/config'
import {
  SEARCH_SPACES,
  activeDecisions,
  canonicalGenome,
  cardinalities,
  checkSearchSpace,
  configToGenome,
  decisions,
  genomeToConfig,
  type SearchSpace,
} from '../../src/search'

const tiny = SEARCH_SPACES.tiny
const metanet = SEARCH_SPACES.metanet
const randomGenome = (space: SearchSpace, rng: Rng): number[] => cardinalities(space).map((n) => rng.int(0, n))

t.test('the zoo and published configs lie in their spaces and round-trip', async (t) => {
  for (const [space, name] of [
    [tiny, 'mn-t'],
    [metanet, 'mn-b4'],
  ] as const) {
    const config = metaNetConfig(name)
    const genome = configToGenome(space, config)
    const back = genomeToConfig(space, genome, { name, numClasses: config.numClasses, headWidth: config.headWidth })
    t.same(back, config, `${name}: genome -> config gives the config back`)
    t.same(configToGenome(space, back), genome, `${name}: and the same genome`)
  }
})

t.test('every sampled genome validates and round-trips to its canonical form', async (t) => {
  for (const space of [tiny, metanet]) {
    const rng = new Rng(7)
    let bad = 0
    for (let i = 0; i < 400; i++) {
      const g = randomGenome(space, rng)
      const config = genomeToConfig(space, g)
      const back = configToGenome(space, config)
      if (back.join() !== canonicalGenome(space, g).join()) bad++
      // Attention follows convolution, never the reverse.
      const kinds = config.stages.map((s) => (s.block === 'sa' || s.block === 'xca' ? 1 : 0))
      if (kinds.some((k, j) => j > 0 && k < kinds[j - 1])) bad++
    }
    t.equal(bad, 0, `${space.name}: 400 random genomes valid, ordered and round-tripping`)
  }
})

t.test('sampled tiny networks build, run and have the counted parameters', async (t) => {
  const rng = new Rng(3)
  for (let i = 0; i < 4; i++) {
    const config = genomeToConfig(tiny, randomGenome(tiny, rng))
    const model = new iv.MetaNet(config)
    t.equal(model.numParameters(), countParameters(config), `genome ${i}: parameters counted = built`)
    const logits = iv.scope(() => iv.noGrad(() => model.eval().forward(iv.rand([2, 3, 32, 32]))))
    t.same(logits.shape, [2, config.numClasses], `genome ${i}: forward at 32 px gives [2, ${config.numClasses}]`)
  }
})

t.test('only the block gene on its side of the attention start is active', async (t) => {
  const ds = decisions(tiny)
  const g = ds.map(() => 0)
  g[ds.findIndex((d) => d.name === 'attentionStart')] = tiny.attentionStarts.indexOf(6)
  const names = activeDecisions(tiny, g).map((i) => ds[i].name)
  t.notOk(
    names.some((n) => n.endsWith('attentionBlock')),
    'an all-conv genome has no active attention genes',
  )
  t.ok(names.includes('stage5.convBlock'))
  g[ds.findIndex((d) => d.name === 'attentionStart')] = tiny.attentionStarts.indexOf(3)
  const names3 = activeDecisions(tiny, g).map((i) => ds[i].name)
  t.ok(
    names3.includes('stage3.attentionBlock') &&
      !names3.includes('stage3.convBlock') &&
      names3.includes('stage2.convBlock'),
  )
  // Changing an inactive gene changes neither the network nor the canonical genome.
  const other = [...g]
  other[ds.findIndex((d) => d.name === 'stage4.convBlock')] = 1
  t.same(genomeToConfig(tiny, other), genomeToConfig(tiny, g))
  t.same(canonicalGenome(tiny, other), canonicalGenome(tiny, g))
})

t.test('bad genomes, configs and spaces are named', async (t) => {
  const n = cardinalities(tiny).length
  t.throws(() => genomeToConfig(tiny, [0, 0]), new RegExp(`has ${n} genes, got 2`))
  const g = cardinalities(tiny).map(() => 0)
  g[0] = 3
  t.throws(() => genomeToConfig(tiny, g), /gene 0 \(stemWidth\) must be an integer in \[0, 3\), got 3/)
  t.throws(() => configToGenome(tiny, metaNetConfig('mn-b4')), /stemWidth = 32, not an option of space 'tiny'/)
  const badDim: SearchSpace = { ...tiny, headDims: [8, 16, 32] }
  t.throws(
    () => checkSearchSpace(badDim),
    /stage 3 may be an attention stage, but head dim 32 does not divide its width option 48/,
  )
  const early: SearchSpace = { ...tiny, attentionStarts: [2, 6] }
  t.throws(() => checkSearchSpace(early), /stage 2 attentionBlocks is empty but the stage may be an attention stage/)
  const thin: SearchSpace = {
    ...tiny,
    stages: tiny.stages.map((st, i) => (i === 1 ? { ...st, expansions: [0.05, 2] } : st)),
  }
  t.throws(() => checkSearchSpace(thin), /stage 1 expansion 0.05 leaves no hidden channel at width 8/)
  const badFixed: SearchSpace = { ...tiny, fixed: { ...tiny.fixed, outStages: [7] } }
  t.throws(() => checkSearchSpace(badFixed), /outStages must be increasing stage indices below 6/)
})

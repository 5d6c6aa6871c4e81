// The model zoo: every entry builds and keeps the Backbone promises (feature widths and
// strides match what forwardFeatures returns, pooledDim matches forwardPooled), config files
// load, and bad names or options give one clear error.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import t from 'tap'
import { createModel, listModels, manualSeed, noGrad, randn } from '../../src'
import { metaNetConfig } from '../../src/models/metanet'

t.test('every small zoo entry keeps its feature promises', async (t) => {
  manualSeed(0)
  const names = listModels().map((m) => m.name)
  t.ok(names.includes('mn-t') && names.includes('resnet18') && names.includes('mn-b4'), names.join(','))
  for (const [name, side] of [
    ['mn-t', 64],
    ['resnet18', 32],
    ['resnet18', 128],
  ] as const) {
    const m = createModel(name, { imageSize: side })
    m.eval()
    noGrad(() => {
      const x = randn([2, 3, side, side])
      const feats = m.forwardFeatures(x)
      t.equal(feats.length, m.featureChannels.length, `${name}@${side}: one feature per width`)
      feats.forEach((f, i) => {
        t.same(
          f.shape,
          [2, m.featureChannels[i], side / m.featureStrides[i], side / m.featureStrides[i]],
          `${name}@${side} feature ${i}`,
        )
      })
      t.same(m.forwardPooled(x).shape, [2, m.pooledDim], `${name}@${side} pooled`)
      t.same(m.forward(x).shape, [2, m.pooledDim], `${name}@${side}: numClasses 0 by default gives the pooled feature`)
    })
  }
  t.same(createModel('mn-t', { numClasses: 7, imageSize: 32 }).forward(randn([2, 3, 32, 32])).shape, [2, 7])
})

t.test('a MetaNet config file builds the same network as its name', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-zoo-'))
  const file = path.join(dir, 'best.json')
  fs.writeFileSync(file, JSON.stringify({ config: metaNetConfig('mn-t') }))
  t.equal(createModel(file).numParameters(), createModel('mn-t').numParameters())
  fs.writeFileSync(file, '{"stages": 3')
  t.throws(() => createModel(file), /not valid JSON/)
  fs.writeFileSync(file, '{"layers": []}')
  t.throws(() => createModel(file), /no MetaNet configuration/)
  t.throws(() => createModel(path.join(dir, 'missing.json')), /cannot read model file/)
})

t.test('bad names and options are refused by name', async (t) => {
  t.throws(() => createModel('resnet9000'), /unknown model 'resnet9000'; known: .*mn-t/)
  t.throws(() => createModel('mn-t', { numClasses: -1 }), /numClasses must be a non-negative integer/)
  t.throws(() => createModel('mn-t', { imageSize: 0 }), /imageSize must be a positive integer/)
})

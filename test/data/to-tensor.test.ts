import t from 'tap'
import { collate } from '../../src/data/collate'
import { worldDataset } from '../../src/data/world/world'

// The only data test that needs the engine (and its native addon).
let toTensor: typeof import('../../src/data/to-tensor') | undefined
let why = ''
try {
  // A synchronous, catchable load: a static import would fail the whole file without the addon.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  toTensor = require('../../src/data/to-tensor')
} catch (err) {
  why = `the tensor engine did not load: ${(err as Error).message.split('\n')[0]}`
}

t.test(
  'a collated batch becomes tensors with the right shapes and dtypes',
  { skip: toTensor ? false : why },
  async (t) => {
    const ds = worldDataset({ size: 3, imageSize: 16, seed: 1 })
    const batch = collate([ds.get(0), ds.get(1), ds.get(2)])
    const tb = toTensor!.batchToTensors(batch)
    const M = batch.objects!.boxes.shape[1]
    t.same(tb.images.shape, [3, 3, 16, 16])
    t.equal(tb.images.dtype, 'float32')
    t.same(tb.objects!.boxes.shape, [3, M, 4])
    t.equal(tb.objects!.valid.dtype, 'bool')
    t.equal(tb.objects!.labels.dtype, 'int32')
    t.same(tb.objects!.masks!.shape, [3, M, 16, 16])
    t.equal(tb.segmentation!.dtype, 'int32', '255 must survive as an ignore class index')
    t.same(tb.depth!.shape, [3, 16, 16])
    t.same(Object.keys(tb.labels!).sort(), Object.keys(batch.labels!).sort())
    t.same(tb.captions, batch.captions)
  },
)

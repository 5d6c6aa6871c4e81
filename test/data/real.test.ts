import t from 'tap'
import { existsSync } from 'node:fs'
import { fashionMnistAvailable, FASHION_MNIST_ROOT, parseIdx } from '../../src/data/formats/idx'
import { digits, DIGITS_PATH, fashionMnist } from '../../src/data/formats/mnist'
import { datasetCard, formatCard, getDataset, listDatasets, registerDataset } from '../../src/data/registry'
import { worldDataset } from '../../src/data/world/world'

t.test('IDX parsing', async (t) => {
  const bytes = Uint8Array.from([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])
  const a = parseIdx(bytes)
  t.same(a.shape, [2, 3])
  t.same(Array.from(a.data), [1, 2, 3, 4, 5, 6])
  t.throws(() => parseIdx(Uint8Array.from([1, 2, 3, 4])), /not an IDX file/)
  t.throws(() => parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0])), /type code 0xd/)
  t.throws(() => parseIdx(bytes.subarray(0, 15)), /declares shape \[2, 3\] \(6 values\) but holds 3/)
})

t.test(
  'Fashion-MNIST from the Debian package',
  { skip: fashionMnistAvailable() ? false : `dataset-fashion-mnist is not installed (${FASHION_MNIST_ROOT})` },
  async (t) => {
    const train = fashionMnist({ split: 'train' })
    const test = fashionMnist({ split: 'test' })
    t.equal(train.length, 60000)
    t.equal(test.length, 10000)
    const s = train.get(0)
    t.same([s.image.channels, s.image.height, s.image.width], [1, 28, 28])
    t.equal(s.labels!.class, 9, 'the first training image is an ankle boot')
    t.equal(train.info.labelSpaces.group.classes[s.labels!.group], 'footwear')
    t.ok(s.image.data.every((v) => v >= 0 && v <= 1))
    const hist = new Array(10).fill(0)
    for (let i = 0; i < test.length; i++) hist[test.annotation!(i).labels!.class]++
    t.same(hist, new Array(10).fill(1000), 'the test split is balanced')
    t.throws(() => fashionMnist({ split: 'val' as never }), /has no val split/)
  },
)

t.test('missing real data names the Debian package', async (t) => {
  t.throws(() => fashionMnist({ root: '/nonexistent' }), /install the Debian package dataset-fashion-mnist/i)
  t.throws(() => digits({ path: '/nonexistent/digits.csv.gz' }), /Install the Debian package python3-sklearn/)
})

t.test('sklearn digits', { skip: existsSync(DIGITS_PATH) ? false : 'python3-sklearn is not installed' }, async (t) => {
  const all = digits({ split: 'all' })
  t.equal(all.length, 1797)
  const parts = ['train', 'val', 'test'].map((split) => digits({ split: split as 'train' }).length)
  t.same(parts, [1439, 179, 179])
  const s = all.get(0)
  t.same([s.image.height, s.image.width], [8, 8])
  t.equal(s.labels!.class, 0)
  t.equal(s.image.data[2], 5 / 16)
})

t.test('registry: named datasets, splits and cards', async (t) => {
  const names = listDatasets().map((d) => d.name)
  t.ok(['world', 'fashion-mnist', 'digits'].every((n) => names.includes(n)))
  const val = getDataset('world', 'val', { size: 10, imageSize: 16 })
  t.equal(val.length, 10)
  t.equal(val.info.split, 'val')
  t.equal(getDataset('world', 'train').length, 50000)
  t.throws(
    () => getDataset('imagenet', 'train'),
    /getDataset: no dataset 'imagenet'; registered: world, fashion-mnist, digits/,
  )
  t.throws(() => getDataset('fashion-mnist', 'val'), /'fashion-mnist' has no split 'val'; it has train, test/)
  t.match(
    formatCard(datasetCard('world')),
    /### world\n.*\n- tasks: classification, detection, segmentation, depth, imageText\n- size: train 50000, val 5000, test 5000\n- license: /,
  )
  registerDataset('tiny-world', {
    card: { ...datasetCard('world'), name: 'tiny-world' },
    splits: ['train'],
    create: () => worldDataset({ size: 5, imageSize: 16, name: 'tiny-world' }),
  })
  t.equal(getDataset('tiny-world', 'train').length, 5)
  t.throws(
    () =>
      registerDataset('tiny-world', { card: datasetCard('world'), splits: ['train'], create: () => worldDataset() }),
    /already registered/,
  )
  t.throws(
    () => registerDataset('Bad Name', { card: datasetCard('world'), splits: ['train'], create: () => worldDataset() }),
    /name must be lower-case/,
  )
})

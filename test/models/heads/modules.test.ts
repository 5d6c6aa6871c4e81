// The head modules on real backbone features: output shapes for mn-t and resnet18 at 64 px,
// parameter counts worked out by hand, the Detector's conveniences (every annotation form gives
// the same loss, predict's format) and clear errors for bad input.
import t from 'tap'
import * as iv from '../../../src'
import { DepthHead, Detector, FCOSHead, FPN, SegmentationHead, type BatchObjects } from '../../../src/models/heads'
import { collate } from '../../../src/data/collate'
import { batchToTensors } from '../../../src/data/to-tensor'

const conv = (cin: number, cout: number, k: number, bias = true) => cin * cout * k * k + (bias ? cout : 0)

t.test('output shapes on mn-t and resnet18 features at 64 px', async (t) => {
  iv.manualSeed(0)
  for (const [name, N] of [
    ['mn-t', 2],
    ['resnet18', 1],
  ] as const) {
    // features of the shapes the backbone declares (test/models/zoo.test.ts holds it to them),
    // without running it: resnet18's small-image layout alone takes seconds at 64 px
    const { featureChannels: channels, featureStrides: strides } = iv.createModel(name, { imageSize: 64 })
    const sides = strides.map((s) => 64 / s)
    const feats = channels.map((c, i) => iv.randn([N, c, sides[i], sides[i]]))
    iv.noGrad(() => {
      const fpn = new FPN(channels, 32, { levels: channels.length + 1 })
      const pyramid = fpn.forward(feats)
      t.same(
        pyramid.map((p) => p.shape),
        [...sides, sides[sides.length - 1] / 2].map((s) => [N, 32, s, s]),
        `${name}: FPN levels, one extra`,
      )
      t.same(fpn.outStrides(strides), [...strides, 2 * strides[strides.length - 1]])

      const det = new Detector(channels, [12, 3], { strides, channels: 32 })
      const out = det.forward(feats)
      t.same(out.strides, strides)
      t.same(
        out.classLogits.map((b) => b.map((m) => m.shape)),
        [12, 3].map((c) => sides.map((s) => [N, c, s, s])),
        `${name}: class logits per branch and level`,
      )
      t.same(
        out.boxRegression.map((m) => m.shape),
        sides.map((s) => [N, 4, s, s]),
        `${name}: boxes`,
      )
      t.same(
        out.centerness.map((m) => m.shape),
        sides.map((s) => [N, 1, s, s]),
        `${name}: centerness`,
      )
      t.ok(
        out.boxRegression.every((m) => m.min().item() > 0),
        `${name}: distances are positive`,
      )

      const seg = new SegmentationHead(channels, [13, 4], { channels: 32 })
      t.same(seg.forward(feats, [64, 64]).shape, [N, 13, 64, 64], `${name}: segmentation logits at the input size`)
      t.same(seg.forward(feats, [64, 64], 1).shape, [N, 4, 64, 64], `${name}: second vocabulary`)
      t.same(
        seg.forwardAll(feats, [64, 64]).map((x) => x.shape),
        [
          [N, 13, 64, 64],
          [N, 4, 64, 64],
        ],
      )

      const depth = new DepthHead(channels, { channels: 32, maxDepth: 16 }).forward(feats, [64, 64])
      t.same(depth.shape, [N, 1, 64, 64], `${name}: depth at the input size`)
      t.ok(depth.min().item() > 0 && depth.max().item() < 16, `${name}: depth in (0, maxDepth)`)
    })
  }
})

t.test('parameter counts, worked out by hand', async (t) => {
  const C = [16, 24, 64, 128] // mn-t's featureChannels
  const W = 64
  const fpn = C.reduce((n, c) => n + conv(c, W, 1), 0) + 4 * conv(W, W, 3) + conv(W, W, 3) // one extra level
  t.equal(new FPN(C, W, { levels: 5 }).numParameters(), fpn, 'FPN: laterals, outputs, one extra conv')
  const tower = 2 * (conv(W, W, 3) + 2 * W) // conv + GroupNorm affine, twice
  const head = 2 * tower + conv(W, 12, 3) + conv(W, 3, 3) + conv(W, 4, 3) + conv(W, 1, 3) + 5
  t.equal(
    new FCOSHead(W, [12, 3], { strides: [4, 8, 16, 32, 64] }).numParameters(),
    head,
    'FCOS head: two towers, 2 classifiers, box, centerness, 5 scales',
  )
  const det = new Detector(C, [12, 3], { strides: [4, 8, 16, 32], extraLevels: 1 })
  t.equal(det.numParameters(), fpn + head, 'Detector = FPN + head')
  const decoder = C.reduce((n, c) => n + conv(c, W, 1), 0) + 2 * (conv(W, W, 3, false) + 2 * W)
  t.equal(
    new SegmentationHead(C, 13).numParameters(),
    decoder + conv(W, 13, 1),
    'segmentation: decoder + 1x1 classifier',
  )
  t.equal(new DepthHead(C).numParameters(), decoder + conv(W, 1, 1), 'depth: decoder + 1x1 predictor')
})

t.test('Detector: every annotation form gives the same loss; predict gives detections', async (t) => {
  iv.manualSeed(1)
  const ds = iv.data.worldDataset({ size: 4, seed: 3, imageSize: 32, targets: ['objects'] })
  const batch = collate([0, 1, 2, 3].map((i) => ds.get(i) as iv.data.Sample))
  const backbone = iv.createModel('mn-t', { imageSize: 32 }).eval()
  const feats = iv.noGrad(() => backbone.forwardFeatures(iv.tensor(batch.images.data, { shape: batch.images.shape })))
  const det = new Detector(backbone.featureChannels, 12, { strides: backbone.featureStrides })
  const o = batch.objects!
  const perImage: BatchObjects = [0, 1, 2, 3].map((i) => {
    const n = o.counts[i]
    const M = o.labels.shape[1]
    return {
      boxes: o.boxes.data.slice(4 * i * M, 4 * (i * M + n)),
      labels: o.labels.data.slice(i * M, i * M + n),
      ignore: o.ignore.data.slice(i * M, i * M + n),
    }
  })
  const losses = [o, batchToTensors(batch).objects!, perImage].map((objects) =>
    iv.noGrad(() => det.loss(feats, objects).loss.item()),
  )
  t.ok(Number.isFinite(losses[0]) && losses[0] > 0, `loss ${losses[0]}`)
  t.equal(losses[1], losses[0], 'tensor form (batchToTensors)')
  t.equal(losses[2], losses[0], 'one ImageObjects per image')
  const dets = det.predict(feats, { scoreThreshold: 0, maxDetections: 7 })
  t.equal(dets.length, 4, 'one result per image')
  for (const d of dets) {
    t.ok(d.boxes instanceof Float32Array && d.scores instanceof Float32Array && d.labels instanceof Int32Array)
    t.equal(d.scores.length, 7, 'maxDetections kept')
    t.equal(d.boxes.length, 4 * d.scores.length)
    t.ok(
      d.boxes.every((v) => v >= 0 && v <= 32),
      'boxes inside the image',
    )
    t.ok(d.labels.every((l) => l >= 0 && l < 12))
  }
})

t.test('bad input is refused by name', async (t) => {
  const C = [8, 16]
  const feats = [iv.zeros([2, 8, 8, 8]), iv.zeros([2, 16, 4, 4])]
  const det = new Detector(C, 5, { strides: [4, 8] })
  t.throws(() => det.forward([feats[0]]), /FPN: expected 2 feature maps \(channels \[8,16\]\), got 1/)
  t.throws(
    () => det.forward([feats[0], iv.zeros([2, 12, 4, 4])]),
    /FPN: feature 1 must be \[2, 16, H, W\], got \[2, 12, 4, 4\]/,
  )
  t.throws(
    () => det.forward([feats[0], iv.zeros([3, 16, 4, 4])]),
    /FPN: feature 1 must be \[2, 16, H, W\], got \[3, 16, 4, 4\]/,
  )
  t.throws(
    () => new Detector(C, 5, { strides: [4] }),
    /Detector: strides must list one positive integer per feature level \(2\)/,
  )
  t.throws(() => new Detector(C, 5, {} as { strides: number[] }), /Detector: options.strides .* is required/)
  t.throws(
    () => new Detector(C, [5, 0], { strides: [4, 8] }),
    /Detector: numClasses must be a positive integer or a non-empty list/,
  )
  t.throws(() => new Detector([], 5, { strides: [] }), /Detector: inChannels must be a non-empty list/)
  const objects = (boxes: number[], labels: number[]) => [
    { boxes, labels },
    { boxes: [], labels: [] },
  ]
  t.throws(
    () => det.loss(feats, objects([8, 2, 4, 9], [1])),
    /Detector.loss: objects of image 0.boxes box 0 has x2 < x1/,
  )
  t.throws(
    () => det.loss(feats, objects([NaN, 2, 4, 9], [1])),
    /Detector.loss: objects of image 0.boxes box 0 is not finite/,
  )
  t.throws(
    () => det.loss(feats, objects([1, 2, 4, 9], [5])),
    /Detector.loss: objects of image 0.labels\[0\] = 5 is out of range \[0, 5\)/,
  )
  t.throws(
    () => det.loss(feats, [{ boxes: [], labels: [] }]),
    /Detector.loss: 1 images of objects for a feature batch of 2/,
  )
  t.throws(
    () => det.loss(feats, objects([], []), { branch: [0] }),
    /Detector.loss: branch must be one number or one per image \(2\)/,
  )
  t.throws(() => det.loss(feats, {} as BatchObjects), /Detector.loss: objects must be an ObjectBatch/)
  const seg = new SegmentationHead(C, 3)
  t.throws(() => seg.forward(feats.slice(1), [32, 32]), /SegmentationHead: expected 2 feature maps/)
  t.throws(() => seg.forward(feats, [32, 0]), /SegmentationHead: outputSize must be \[height, width\]/)
  t.throws(() => seg.forward(feats, [32, 32], 1), /SegmentationHead: branch .* must be an integer in \[0, 1\), got 1/)
  t.throws(() => new SegmentationHead(C, 3, { channels: 0 }), /SegmentationHead: channels must be a positive integer/)
  t.throws(
    () => new DepthHead(C).forward([feats[1], feats[0]], [32, 32]),
    /DepthHead: feature 0 must be \[2, 8, H, W\], got \[2, 16, 4, 4\]/,
  )
  t.throws(() => new DepthHead(C, { maxDepth: -1 }), /DepthHead: maxDepth must be a positive number/)
  t.throws(() => new FPN(C, 8, { levels: 1 }), /FPN: levels must be an integer >= the number of inputs \(2\)/)
  t.throws(
    () => new FCOSHead(8, 3, { strides: [4, 8] }).forward([iv.zeros([1, 8, 2, 2])]),
    /FCOSHead: expected 2 feature maps/,
  )
})

// The heads learn: on a tiny GV-D world set (64 images at 64 px) an mn-t backbone with a
// Detector lowers the FCOS loss within a few dozen steps, and segmentation and depth heads on
// the (then frozen) backbone's cached features lower theirs.
import t from 'tap'
import * as iv from '../../../src'
import { collate } from '../../../src/data/collate'
import { batchToTensors } from '../../../src/data/to-tensor'
import { DepthHead, Detector, SegmentationHead, depthLoss, segmentationLoss } from '../../../src/models/heads'

const BATCHES = 4

iv.manualSeed(0)
const world = iv.data.worldDataset({ size: 64, seed: 7, imageSize: 64, targets: ['objects', 'segmentation', 'depth'] })
const batches = Array.from({ length: BATCHES }, (_, b) =>
  collate(Array.from({ length: 16 }, (_, i) => world.get(b * 16 + i) as iv.data.Sample)),
)
const tensors = batches.map(batchToTensors)
const backbone = iv.createModel('mn-t', { imageSize: 64 })

/** Mean losses of the first and of the last epoch of `step` over the fixed batches. */
function train(epochs: number, step: (k: number) => number[]): { first: number[]; last: number[] } {
  const means: number[][] = []
  for (let e = 0; e < epochs; e++) {
    const sums: number[] = []
    for (let k = 0; k < BATCHES; k++)
      iv.scope(() => step(k)).forEach((v, i) => (sums[i] = (sums[i] ?? 0) + v / BATCHES))
    means.push(sums)
  }
  return { first: means[0], last: means[epochs - 1] }
}

t.test('mn-t + Detector lowers the detection loss', async (t) => {
  const det = new Detector(backbone.featureChannels, world.info.labelSpaces.shape.size, {
    strides: backbone.featureStrides,
  })
  const opt = new iv.AdamW([...backbone.parameters(), ...det.parameters()], { lr: 2e-3, weightDecay: 1e-4 })
  const { first, last } = train(6, (k) => {
    const l = det.loss(backbone.forwardFeatures(tensors[k].images), batches[k].objects!)
    opt.zeroGrad()
    l.loss.backward()
    opt.step()
    return [l.loss.item(), l.classification.item(), l.box.item()]
  })
  t.ok(last[0] < 0.85 * first[0], `total ${first[0].toFixed(3)} -> ${last[0].toFixed(3)}`)
  t.ok(last[1] < first[1], `classification ${first[1].toFixed(3)} -> ${last[1].toFixed(3)}`)
  t.ok(last[2] < first[2], `box ${first[2].toFixed(3)} -> ${last[2].toFixed(3)}`)
})

t.test('segmentation and depth heads on frozen features lower their losses', async (t) => {
  backbone.eval()
  const feats = tensors.map((b) => iv.noGrad(() => backbone.forwardFeatures(b.images).map((f) => iv.keep(f))))
  const seg = new SegmentationHead(backbone.featureChannels, world.info.labelSpaces.segmentation.size)
  const depth = new DepthHead(backbone.featureChannels, { maxDepth: 20 })
  const opt = new iv.AdamW([...seg.parameters(), ...depth.parameters()], { lr: 3e-3 })
  const { first, last } = train(3, (k) => {
    const s = segmentationLoss(seg.forward(feats[k], [64, 64]), tensors[k].segmentation!)
    const d = depthLoss(depth.forward(feats[k], [64, 64]), tensors[k].depth!, tensors[k].depthValid!)
    opt.zeroGrad()
    s.add(d).backward()
    opt.step()
    return [s.item(), d.item()]
  })
  t.ok(last[0] < 0.6 * first[0], `segmentation ${first[0].toFixed(3)} -> ${last[0].toFixed(3)}`)
  t.ok(last[1] < 0.7 * first[1], `depth (mean |error|, m) ${first[1].toFixed(3)} -> ${last[1].toFixed(3)}`)
})

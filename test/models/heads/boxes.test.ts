// Box arithmetic on host arrays: IoU and GIoU against hand-worked values (identical, nested,
// partial, touching and disjoint boxes) and PyTorch's formulas; NMS keeps the right boxes,
// class by class; bad boxes are refused by name.
import t from 'tap'
import { batchedNms, boxIou, generalizedBoxIou, nms } from '../../../src/models/heads'
import { assertClose } from '../../helpers'
import { heads } from './fixture'

t.test('IoU and GIoU of hand-placed pairs', async (t) => {
  const a = [0, 0, 10, 10]
  const cases: [string, number[], number, number][] = [
    // name, b, IoU, GIoU; C = enclosing area, U = union
    ['identical', [0, 0, 10, 10], 1, 1],
    ['nested', [2, 2, 6, 6], 16 / 100, 16 / 100], // C = U = 100
    ['partial', [5, 5, 15, 15], 25 / 175, 25 / 175 - (225 - 175) / 225],
    ['touching', [10, 0, 14, 10], 0, 0 - (140 - 140) / 140],
    ['disjoint', [12, 13, 14, 15], 0, 0 - (15 * 14 - 104) / (15 * 14)],
  ]
  for (const [name, b, iou, giou] of cases) {
    assertClose(t, boxIou(a, b), [iou], 1e-12, 1e-12, `${name} IoU`)
    assertClose(t, generalizedBoxIou(a, b), [giou], 1e-12, 1e-12, `${name} GIoU`)
    assertClose(t, boxIou(b, a), [iou], 1e-12, 1e-12, `${name} IoU is symmetric`)
  }
  t.same([...boxIou([0, 0, 0, 5], a)], [0], 'an empty box has IoU 0')
  t.same(boxIou(a, []).length, 0, 'no boxes, no pairs')
})

t.test('pairwise IoU and GIoU match torchvision', async (t) => {
  for (const c of heads.pairwise) {
    assertClose(t, boxIou(c.a.data, c.b.data), c.iou.data, 1e-12, 1e-12, 'box_iou')
    assertClose(t, generalizedBoxIou(c.a.data, c.b.data), c.giou.data, 1e-12, 1e-12, 'generalized_box_iou')
  }
})

t.test('NMS keeps the right boxes', async (t) => {
  // A and B overlap with IoU 81/119 = 0.68; C is apart; D overlaps A with IoU 0.
  const boxes = [0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30, 10, 0, 20, 10]
  const scores = [0.9, 0.95, 0.5, 0.7]
  t.same([...nms(boxes, scores, 0.5)], [1, 3, 2], 'A is suppressed by the higher-scored B')
  t.same([...nms(boxes, scores, 0.7)], [1, 0, 3, 2], 'below the threshold both stay, by score')
  t.same([...batchedNms(boxes, scores, [0, 1, 0, 0], 0.5)], [1, 0, 3, 2], 'different classes never suppress each other')
  t.same([...batchedNms(boxes, scores, [1, 1, 0, 0], 0.5)], [1, 3, 2], 'the same class does')
  t.same([...nms([0, 0, 4, 4, 0, 0, 4, 4], [0.5, 0.5], 0.5)], [0], 'equal scores: the lower index wins')
  for (const c of heads.nms) {
    t.same([...nms(c.boxes.data, c.scores.data, c.iouThreshold)], c.keep, `${c.name}: as torchvision's nms`)
    t.same(
      [...batchedNms(c.boxes.data, c.scores.data, c.labels.data, c.iouThreshold)],
      c.keepBatched,
      `${c.name}: as torchvision's batched_nms`,
    )
  }
})

t.test('bad boxes are refused by name', async (t) => {
  t.throws(() => boxIou([0, 0, 1], [0, 0, 1, 1]), /boxIou: a must hold 4 numbers .* per box, got 3 numbers/)
  t.throws(() => boxIou([5, 0, 1, 1], [0, 0, 1, 1]), /boxIou: a box 0 has x2 < x1/)
  t.throws(() => generalizedBoxIou([0, 0, 1, 1], [0, 0, NaN, 1]), /generalizedBoxIou: b box 0 is not finite/)
  t.throws(() => nms([0, 0, 1, 1], [0.5, 0.2], 0.5), /nms: scores must hold one number per box \(1\), got 2/)
  t.throws(() => nms([0, 0, 1, 1], [0.5], 1.5), /nms: iouThreshold must be in \[0, 1\], got 1.5/)
  t.throws(() => nms([0, 0, 1, 1], [NaN], 0.5), /nms: score 0 is NaN/)
  t.throws(() => batchedNms([0, 0, 1, 1], [0.5], [], 0.5), /batchedNms: labels must hold one label per box/)
})

// GV-B metrics: hand-worked cases, edge cases with defined results or clear errors, and parity
// with scikit-learn / independent references (test/fixtures/metrics.json from
// scripts/fixtures/metrics.py).
import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import {
  accuracy,
  boxIoU,
  confusionMatrix,
  depthMetrics,
  logAverageMissRate,
  meanAveragePrecision,
  meanIoU,
  meanPerClassAccuracy,
  perClassAccuracy,
  pixelAccuracy,
  vocAveragePrecision,
  type Detections,
  type GroundTruth,
} from '../../src/benchmark/metrics'

const close = (a: number, b: number, eps = 1e-12): boolean => Math.abs(a - b) <= eps

function gt(
  boxes: number[][],
  labels: number[],
  options: { ignore?: number[]; visibility?: number[] } = {},
): GroundTruth {
  return {
    boxes: Float32Array.from(boxes.flat()),
    labels: Int32Array.from(labels),
    visibility: Float32Array.from(options.visibility ?? labels.map(() => 1)),
    ignore: Uint8Array.from(options.ignore ?? labels.map(() => 0)),
  }
}

function dets(list: [number[], number, number][]): Detections {
  return {
    boxes: Float32Array.from(list.flatMap(([b]) => b)),
    scores: Float32Array.from(list.map(([, s]) => s)),
    labels: Int32Array.from(list.map(([, , l]) => l)),
  }
}

t.test('classification: hand-worked cases', async (t) => {
  t.equal(accuracy([0, 1, 2, 2], [0, 1, 1, 2]), 0.75)
  t.equal(accuracy(Int32Array.from([3]), Int32Array.from([3])), 1)
  // class 0: 2 of 3 right, class 1: 1 of 1, class 2 absent from the target (left out)
  t.same(perClassAccuracy([0, 0, 1, 1], [0, 0, 0, 1], 3), [2 / 3, 1, null])
  t.ok(close(meanPerClassAccuracy([0, 0, 1, 1], [0, 0, 0, 1], 3), 5 / 6))
  // rows are true classes: true 0 -> predicted [0, 0, 1]; true 1 -> predicted 1
  t.same(Array.from(confusionMatrix([0, 0, 1, 1], [0, 0, 0, 1], 2)), [2, 1, 0, 1])
  const acc = new Float64Array(4)
  confusionMatrix([1], [0], 2, { into: acc })
  confusionMatrix([1, 0], [0, 255], 2, { into: acc, ignoreIndex: 255 })
  t.same(Array.from(acc), [0, 2, 0, 0], 'accumulates into, skipping ignored targets')
})

t.test('classification: bad input', async (t) => {
  t.throws(() => accuracy([0, 1], [0]), /accuracy: pred has 2 values but target has 1/)
  t.throws(() => accuracy([], []), /accuracy: target is empty/)
  t.throws(() => accuracy([0.5], [0]), /accuracy: pred\[0\] = 0.5 is not a class index/)
  t.throws(
    () => meanPerClassAccuracy([0, 3], [0, 1], 3),
    /confusionMatrix: pred\[1\] = 3 is not a class index in \[0, 3\)/,
  )
  t.throws(() => meanPerClassAccuracy([0, 1], [0, Number.NaN], 3), /target\[1\] = NaN/)
  t.throws(() => perClassAccuracy([0], [0], 0), /numClasses must be a positive integer, got 0/)
  t.throws(
    () => confusionMatrix([0], [0], 2, { into: new Float64Array(3) }),
    /into has 3 entries, expected numClasses\^2 = 4/,
  )
})

t.test('detection: boxes are continuous (exclusive edges, no +1)', async (t) => {
  const a = [0, 0, 10, 10]
  t.ok(close(boxIoU(a, 0, [5, 0, 15, 10], 0), 50 / 150), 'half-overlapping squares: 1/3 (VOC +1 would give 0.375)')
  t.equal(boxIoU(a, 0, [10, 0, 20, 10], 0), 0, 'touching edges do not overlap')
  t.equal(boxIoU(a, 0, a, 0), 1)
})

t.test('detection: VOC AP hand-worked', async (t) => {
  const A = [0, 0, 10, 10]
  const B = [20, 20, 30, 30]
  const C = [40, 40, 50, 50]
  const truths = [gt([A, B, C], [0, 0, 0], { ignore: [0, 0, 1] }), gt([A], [1])]
  // by score: A hit (TP), B missed by 1/3 IoU (FP), on the ignored C (neither), B hit (TP), A again (duplicate: FP)
  const found = [
    dets([
      [A, 0.9, 0],
      [[25, 20, 35, 30], 0.8, 0],
      [C, 0.75, 0],
      [B, 0.7, 0],
      [A, 0.6, 0],
    ]),
    dets([]),
  ]
  // recall 1/2, 1/2, 1, 1 at precision 1, 1/2, 2/3, 1/2: envelope 1 up to recall 1/2, then 2/3
  const ap0 = 0.5 * 1 + 0.5 * (2 / 3)
  const r = meanAveragePrecision(found, truths, { numClasses: 3 })
  t.ok(close(r.perClass[0] as number, ap0), `class 0 AP ${r.perClass[0]} = 5/6`)
  t.equal(r.perClass[1], 0, 'class 1 has ground truth but no detection: AP 0')
  t.equal(r.perClass[2], null, 'class 2 has no ground truth: null')
  t.ok(close(r.map, ap0 / 2), 'mAP over the classes with ground truth')
  t.ok(close(vocAveragePrecision(found, truths, { numClasses: 3, classIndex: 0 }) as number, ap0))
  // at IoU 0.3 the shifted B (IoU 1/3) is a hit; the later exact B is then a duplicate
  const loose = meanAveragePrecision(found, truths, { numClasses: 3, iouThreshold: 0.3 })
  t.ok(close(loose.perClass[0] as number, 1), 'recall 1 at precision 1 first')
})

t.test('detection: edge cases', async (t) => {
  const truths = [gt([[0, 0, 10, 10]], [0]), gt([], [])]
  const empty = [dets([]), dets([])]
  t.same(
    meanAveragePrecision(empty, truths, { numClasses: 2 }),
    { map: 0, perClass: [0, null] },
    'no predictions: AP 0',
  )
  t.throws(
    () =>
      meanAveragePrecision([dets([]), dets([])], [gt([[0, 0, 1, 1]], [0], { ignore: [1] }), gt([], [])], {
        numClasses: 1,
      }),
    /meanAveragePrecision: the ground truth holds no \(non-ignored\) object of any class/,
  )
  t.throws(
    () =>
      meanAveragePrecision(
        [
          dets([
            [[0, 0, 5, 5], 0.5, 0],
            [[0, 0, 5, 5], Number.NaN, 0],
          ]),
          dets([]),
        ],
        truths,
        { numClasses: 2 },
      ),
    /meanAveragePrecision: detections\[0\]\.scores\[1\] is NaN; scores must be finite/,
  )
  t.throws(
    () => meanAveragePrecision([dets([])], truths, { numClasses: 2 }),
    /detections cover 1 images but groundTruths cover 2/,
  )
  t.throws(
    () =>
      meanAveragePrecision(
        [{ boxes: new Float32Array(4), scores: new Float32Array(2), labels: new Int32Array(2) }, dets([])],
        truths,
        { numClasses: 2 },
      ),
    /detections\[0\] has 4 box values, 2 scores and 2 labels; expected 4n, n and n/,
  )
  t.throws(
    () => meanAveragePrecision([dets([[[5, 0, 1, 5], 0.5, 0]]), dets([])], truths, { numClasses: 2 }),
    /box 0 is \[5, 0, 1, 5\]/,
  )
  t.throws(
    () => meanAveragePrecision([dets([[[0, 0, 1, 1], 0.5, 2]]), dets([])], truths, { numClasses: 2 }),
    /labels\[0\] = 2 is not a class index in \[0, 2\)/,
  )
  t.throws(
    () => vocAveragePrecision(empty, truths, { numClasses: 2, classIndex: 2 }),
    /classIndex 2 is not in \[0, 2\)/,
  )
  t.throws(
    () => meanAveragePrecision(empty, truths, { numClasses: 2, iouThreshold: 0 }),
    /iouThreshold must be in \(0, 1\]/,
  )
})

t.test('miss rate: hand-worked MR^-2', async (t) => {
  const P = [0, 0, 10, 20]
  const far = [60, 0, 70, 20]
  const small = [20, 0, 25, 5] // height 5 < 8: outside the subset
  const occluded = [30, 0, 40, 20] // visibility 0.3 < 0.65: outside the subset
  const region = [50, 50, 90, 90] // ignore-flagged crowd region
  const truths = [
    gt([P], [0]),
    gt([P, occluded], [0, 0], { visibility: [1, 0.3] }),
    gt([P, small], [0, 0]),
    gt([P, region], [0, 0], { ignore: [0, 1] }),
  ]
  const found = [
    dets([
      [P, 0.9, 0],
      [far, 0.8, 0],
    ]),
    dets([
      [occluded, 0.75, 0],
      [P, 0.7, 0],
      [far, 0.6, 0],
    ]),
    dets([
      [small, 0.85, 0],
      [P, 0.5, 0],
      [far, 0.4, 0],
    ]),
    dets([[[60, 60, 70, 70], 0.65, 0]]), // IoU with the region 1/16, but wholly inside it: ignored
  ]
  const reasonable = { minHeight: 8, minVisibility: 0.65 }
  const r = logAverageMissRate(found, truths, { reasonable })
  // 4 positives over 4 images. In score order (ignored ones dropped): TP (fppi 0), FP, TP (fppi 1/4),
  // FP, TP (fppi 1/2), FP (fppi 3/4). References 10^(-2 + k/4): six below 1/4 see recall 1/4, 10^-0.5
  // sees 1/2, 10^-0.25 and 1 see 3/4.
  const expected = [0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.5, 0.25, 0.25]
  t.same(
    r.missRates.map((m) => +m.toFixed(12)),
    expected,
  )
  t.ok(close(r.mr2, Math.exp(expected.reduce((s, m) => s + Math.log(m), 0) / 9)), `mr2 ${r.mr2}`)
  t.same(
    r.fppi.map((f) => +f.toPrecision(12)),
    [0, 1, 2, 3, 4, 5, 6, 7, 8].map((k) => +(10 ** (-2 + k / 4)).toPrecision(12)),
  )

  // Without the subset the small and occluded objects are positives (6), found early.
  const all = logAverageMissRate(found, truths)
  const allExpected = [...Array(6).fill(4 / 6), 2 / 6, 1 / 6, 1 / 6]
  t.ok(
    all.missRates.every((m, i) => close(m, allExpected[i])),
    `all objects: ${all.missRates.join(', ')}`,
  )
})

t.test('miss rate: edge cases and the label filter', async (t) => {
  const truths = [
    gt(
      [
        [0, 0, 10, 20],
        [20, 0, 30, 20],
      ],
      [0, 1],
    ),
  ]
  const onDistractor = [dets([[[20, 0, 30, 20], 0.9, 1]])]
  t.equal(logAverageMissRate(onDistractor, truths, { label: 0 }).mr2, 1, 'the one person is missed')
  const both = logAverageMissRate(onDistractor, truths)
  t.ok(
    both.missRates.every((m) => m === 0.5),
    'without a label every object counts',
  )
  t.equal(logAverageMissRate([dets([])], truths).mr2, 1, 'no detections: miss rate 1')
  t.throws(
    () => logAverageMissRate([dets([])], [gt([], [])]),
    /logAverageMissRate: the ground truth holds no object in the evaluated subset/,
  )
  t.throws(() => logAverageMissRate([], []), /logAverageMissRate: no images/)
  t.throws(
    () => logAverageMissRate([dets([[[0, 0, 1, 1], Number.NaN, 0]])], truths),
    /logAverageMissRate: detections\[0\]\.scores\[0\] is NaN/,
  )
  t.throws(() => logAverageMissRate([dets([]), dets([])], truths), /detections cover 2 images but groundTruths cover 1/)
  t.throws(() => logAverageMissRate([dets([])], truths, { fppiRange: [0, 1] }), /fppiRange must satisfy 0 < lo <= hi/)
  t.throws(() => logAverageMissRate([dets([])], truths, { points: 0 }), /points must be a positive integer/)
})

t.test('segmentation: hand-worked mIoU and pixel accuracy', async (t) => {
  // class 0: TP 1, FN 1 -> 1/2; class 1: TP 2, FP 1 -> 2/3; class 2 only at an ignored pixel: absent
  const r = meanIoU([0, 1, 1, 1, 2], [0, 0, 1, 1, 255], 3)
  t.ok(close(r.perClass[0] as number, 0.5) && close(r.perClass[1] as number, 2 / 3))
  t.equal(r.perClass[2], null)
  t.ok(close(r.miou, (0.5 + 2 / 3) / 2))
  t.equal(pixelAccuracy([0, 1, 1, 1, 2], [0, 0, 1, 1, 255]), 0.75)
  // a class only predicted is left out, but its pixels still lower the true class
  t.same(meanIoU([0, 2], [0, 0], 3), { miou: 0.5, perClass: [0.5, null, null] })
  // pooled over images = one concatenated image
  const split = meanIoU(
    [Uint8Array.from([0, 1]), Uint8Array.from([1, 1, 2])],
    [Uint8Array.from([0, 0]), Uint8Array.from([1, 1, 255])],
    3,
  )
  t.same(split, r)
  t.same(meanIoU([0, 1], [0, 7], 3, { ignoreIndex: 7 }), { miou: 1, perClass: [1, null, null] }, 'custom ignore index')
})

t.test('segmentation: bad input', async (t) => {
  t.throws(() => meanIoU([0, 1], [0], 2), /meanIoU: pred has 2 values but target has 1/)
  t.throws(() => meanIoU([[0], [1]], [[0]], 2), /meanIoU: pred holds 2 images but target holds 1/)
  t.throws(() => meanIoU([[0], [5]], [[0], [1]], 2), /meanIoU: pred\[1\]\[0\] = 5 is not a class index in \[0, 2\)/)
  t.throws(
    () => meanIoU([0], [9], 2),
    /meanIoU: target\[0\] = 9 is not a class index in \[0, 2\) \(or the ignore index 255\)/,
  )
  t.throws(() => meanIoU([0], [255], 2), /meanIoU: every target pixel is ignored/)
  t.throws(() => pixelAccuracy([0], [255]), /pixelAccuracy: every target pixel is ignored/)
})

t.test('depth: hand-worked metrics', async (t) => {
  // valid pixels: errors 1, 0, 1; relative 1, 0, 1/4; ratios 2, 1, 1.25 (not < 1.25); the -1 is not valid
  const r = depthMetrics([2, 1, 5, -1], [1, 1, 4, 2], [1, 1, 1, 0])
  t.ok(close(r.rmse, Math.sqrt(2 / 3)) && close(r.absRel, 1.25 / 3) && close(r.delta1, 1 / 3), JSON.stringify(r))
  t.same(depthMetrics([-1], [1], [1]), { rmse: 2, absRel: 2, delta1: 0 }, 'a negative prediction fails delta')
  const pooled = depthMetrics(
    [
      [2, 1],
      [5, -1],
    ],
    [
      [1, 1],
      [4, 2],
    ],
    [Uint8Array.from([1, 1]), Uint8Array.from([1, 0])],
  )
  t.same(pooled, r, 'pooled over images')
  t.throws(() => depthMetrics([1], [1], [0]), /depthMetrics: no valid pixels/)
  t.throws(() => depthMetrics([1, 2], [1], [1]), /depthMetrics: pred has 2 values but target has 1/)
  t.throws(() => depthMetrics([1], [1], [1, 1]), /depthMetrics: target has 1 values but valid has 2/)
  t.throws(
    () => depthMetrics([1], [0], [1]),
    /depthMetrics: target\[0\] = 0 at a valid pixel; valid depths must be positive/,
  )
  t.throws(() => depthMetrics([Number.NaN], [1], [1]), /depthMetrics: pred\[0\] is NaN at a valid pixel/)
})

interface Scene {
  gt: { boxes: number[][]; labels: number[]; visibility: number[]; ignore: number[] }
  det: { boxes: number[][]; scores: number[]; labels: number[] }
}
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'metrics.json'), 'utf8'))
const toDetections = (s: Scene): Detections => ({
  boxes: Float32Array.from(s.det.boxes.flat()),
  scores: Float32Array.from(s.det.scores),
  labels: Int32Array.from(s.det.labels),
})
const toTruth = (s: Scene): GroundTruth =>
  gt(s.gt.boxes, s.gt.labels, { ignore: s.gt.ignore, visibility: s.gt.visibility })
const sameValues = (actual: (number | null)[], expected: (number | null)[]): boolean =>
  actual.length === expected.length &&
  actual.every((a, i) =>
    a === null || expected[i] === null ? a === expected[i] : close(a, expected[i] as number, 1e-12),
  )

t.test('parity with scikit-learn: classification', async (t) => {
  for (const c of fixture.classification) {
    t.ok(close(accuracy(Int32Array.from(c.pred), Int32Array.from(c.target)), c.accuracy), `${c.name}: accuracy`)
    t.ok(
      close(meanPerClassAccuracy(c.pred, c.target, c.numClasses), c.meanPerClassAccuracy),
      `${c.name}: balanced accuracy`,
    )
    t.ok(sameValues(perClassAccuracy(c.pred, c.target, c.numClasses), c.perClassAccuracy), `${c.name}: per class`)
    t.same(Array.from(confusionMatrix(c.pred, c.target, c.numClasses)), c.confusion, `${c.name}: confusion matrix`)
  }
})

t.test('parity with scikit-learn: segmentation and depth', async (t) => {
  for (const c of fixture.segmentation) {
    const pred = c.pred.map((x: number[]) => Uint8Array.from(x))
    const target = c.target.map((x: number[]) => Uint8Array.from(x))
    const r = meanIoU(pred, target, c.numClasses, { ignoreIndex: c.ignoreIndex })
    t.ok(close(r.miou, c.miou), `${c.name}: mIoU ${r.miou} vs jaccard ${c.miou}`)
    t.ok(sameValues(r.perClass, c.perClass), `${c.name}: per-class IoU`)
    t.ok(close(pixelAccuracy(pred, target), c.pixelAccuracy), `${c.name}: pixel accuracy`)
  }
  for (const c of fixture.depth) {
    const r = depthMetrics(Float32Array.from(c.pred), Float32Array.from(c.target), Uint8Array.from(c.valid))
    t.ok(
      close(r.rmse, c.rmse) && close(r.absRel, c.absRel) && close(r.delta1, c.delta1),
      `${c.name}: ${JSON.stringify(r)} vs ${c.rmse}, ${c.absRel}, ${c.delta1}`,
    )
  }
})

t.test('parity with the independent references: VOC AP and MR^-2', async (t) => {
  for (const c of fixture.detection) {
    const r = meanAveragePrecision(c.images.map(toDetections), c.images.map(toTruth), {
      numClasses: c.numClasses,
      iouThreshold: c.iouThreshold,
    })
    t.ok(close(r.map, c.map), `${c.name}: mAP ${r.map} vs ${c.map}`)
    t.ok(sameValues(r.perClass, c.perClass), `${c.name}: per class ${r.perClass} vs ${c.perClass}`)
  }
  for (const c of fixture.missRate) {
    const r = logAverageMissRate(c.images.map(toDetections), c.images.map(toTruth), {
      iouThreshold: c.iouThreshold,
      reasonable: c.reasonable ?? undefined,
    })
    t.ok(close(r.mr2, c.mr2), `${c.name}: MR^-2 ${r.mr2} vs ${c.mr2}`)
    t.ok(sameValues(r.missRates, c.missRates), `${c.name}: miss rates`)
  }
})

// FCOS: location grid and size bands by hand; target assignment on a hand-built scene (which
// locations are positive for which box, ignore handling, exact regression targets) and against
// FCOS's own rules restated in PyTorch; the loss against an independent host computation, with
// ignored locations and other vocabularies' branches getting no gradient; decoding a hand-made
// output; bad input.
import t from 'tap'
import * as iv from '../../../src'
import {
  defaultRanges,
  fcosBatchTargets,
  fcosDecode,
  fcosLoss,
  fcosPoints,
  fcosTargets,
  generalizedBoxIou,
  type FCOSOutputs,
  type FeatureLevel,
} from '../../../src/models/heads'
import { assertClose } from '../../helpers'
import { heads } from './fixture'

const grid: FeatureLevel[] = [{ stride: 8, height: 4, width: 4 }] // points at 4, 12, 20, 28

t.test('location grid and default size bands', async (t) => {
  t.same(
    [
      ...fcosPoints([
        { stride: 8, height: 2, width: 3 },
        { stride: 16, height: 1, width: 1 },
      ]),
    ],
    [4, 4, 12, 4, 20, 4, 4, 12, 12, 12, 20, 12, 8, 8],
  )
  t.same(
    defaultRanges([8, 16, 32, 64, 128]),
    [
      [0, 64],
      [64, 128],
      [128, 256],
      [256, 512],
      [512, Infinity],
    ],
    "FCOS's bands",
  )
  t.same(defaultRanges([4, 8, 16, 32]), [
    [0, 32],
    [32, 64],
    [64, 128],
    [128, Infinity],
  ])
})

t.test('targets of a hand-built scene', async (t) => {
  const at = (x: number, y: number) => ((y - 4) / 8) * 4 + (x - 4) / 8
  const objects = {
    boxes: [
      0,
      0,
      16,
      16, // A, label 3, area 256: (4|12, 4|12)
      8,
      8,
      32,
      32, // B, label 5, area 576: (12|20|28, 12|20|28)
      16,
      0,
      32,
      8, // C, ignored: (20|28, 4)
      0,
      8,
      16,
      24, // D, ignored: (4|12, 12|20)
    ],
    labels: [3, 5, 0, 0],
    ignore: [0, 0, 1, 1],
  }
  const r = fcosTargets(grid, objects, { centerSampling: 0, ranges: [[0, Infinity]] })
  const expected = new Int32Array(16).fill(-1)
  for (const [x, y] of [
    [4, 4],
    [12, 4],
    [4, 12],
    [12, 12],
  ])
    expected[at(x, y)] = 3 // (12, 12) is in B too: the smaller A wins
  for (const [x, y] of [
    [20, 12],
    [28, 12],
    [12, 20],
    [20, 20],
    [28, 20],
    [12, 28],
    [20, 28],
    [28, 28],
  ])
    expected[at(x, y)] = 5
  t.same([...r.labels], [...expected], 'positives and their labels')
  t.equal(r.numPositives, 12)
  const ignored = new Uint8Array(16)
  for (const [x, y] of [
    [20, 4],
    [28, 4],
    [4, 20],
  ])
    ignored[at(x, y)] = 1 // (4, 12), (12, 12), (12, 20) are claimed by A or B
  t.same([...r.ignore], [...ignored], 'inside an ignore box and unclaimed: ignored')
  const box = (x: number, y: number) => [...r.boxes.slice(4 * at(x, y), 4 * at(x, y) + 4)]
  t.same(box(4, 4), [4, 4, 12, 12], 'A from (4, 4)')
  t.same(box(12, 12), [12, 12, 4, 4], 'A from (12, 12)')
  t.same(box(28, 12), [20, 4, 4, 20], 'B from (28, 12)')
  t.same(box(20, 4), [0, 0, 0, 0], 'nothing for an ignored location')
  assertClose(
    t,
    [r.centerness[at(4, 4)], r.centerness[at(20, 20)], r.centerness[at(28, 12)]],
    [1 / 3, 1, 0.2],
    1e-7,
    0,
    'centerness',
  )

  const narrow = fcosTargets(grid, objects, { centerSampling: 0, ranges: [[0, 10]] })
  t.equal(narrow.numPositives, 0, 'outside the size band (every max distance is >= 12): no positives')
  const unclaimed = new Uint8Array(16)
  for (const [x, y] of [
    [20, 4],
    [28, 4],
    [4, 12],
    [12, 12],
    [4, 20],
    [12, 20],
  ])
    unclaimed[at(x, y)] = 1
  t.same([...narrow.ignore], [...unclaimed], 'with A and B out of band, all of C and D is ignored')

  const one = { boxes: [0, 0, 32, 32], labels: [1] }
  t.equal(fcosTargets(grid, one, { centerSampling: 0 }).numPositives, 16, 'whole box: every location')
  const central = fcosTargets(grid, one, { centerSampling: 1 })
  t.same(
    [...central.labels].map((l, p) => (l >= 0 ? p : -1)).filter((p) => p >= 0),
    [5, 6, 9, 10],
    'radius 1 stride: the 4 central locations',
  )
  t.equal(fcosTargets(grid, { boxes: [], labels: [] }).numPositives, 0, 'no objects: all background')
})

t.test("targets match FCOS's rules restated in PyTorch", async (t) => {
  for (const c of heads.fcosTargets) {
    const ranges = c.ranges.map(([lo, hi]: [number, number]) => [lo, hi >= 1e8 ? Infinity : hi])
    const r = fcosTargets(
      c.levels,
      { boxes: c.boxes.data, labels: c.labels.data, ignore: c.ignore.data },
      { ranges, centerSampling: c.centerSampling },
    )
    t.same([...r.labels], c.outLabels.data, `${c.name}: labels`)
    t.same([...r.ignore], c.outIgnore.data, `${c.name}: ignore`)
    assertClose(t, r.boxes, c.outBoxes.data, 1e-7, 1e-6, `${c.name}: regression targets`)
    assertClose(t, r.centerness, c.outCenterness.data, 1e-6, 1e-7, `${c.name}: centerness`)
    t.equal(r.numPositives, c.numPositives, `${c.name}: ${c.numPositives} positives`)
  }
})

/** float64 outputs for N images on `levels`, every tensor a leaf that requires grad. */
function leafOutputs(levels: FeatureLevel[], N: number, classes: number[]): FCOSOutputs {
  const maps = (c: number) =>
    levels.map((l) => iv.randn([N, c, l.height, l.width], { dtype: 'float64' }).requiresGrad_())
  return {
    classLogits: classes.map((c) => maps(c)),
    boxRegression: levels.map((l) =>
      iv.rand([N, 4, l.height, l.width], { dtype: 'float64' }).mul(20).add(1).requiresGrad_(),
    ),
    centerness: maps(1),
    strides: levels.map((l) => l.stride),
  }
}

const sig = (x: number) => 1 / (1 + Math.exp(-x))
const bce = (x: number, y: number) => -(y * Math.log(sig(x)) + (1 - y) * Math.log(1 - sig(x)))
const focal = (x: number, y: number) => {
  const p = sig(x)
  const pt = y ? p : 1 - p
  return (y ? 0.25 : 0.75) * (1 - pt) ** 2 * bce(x, y)
}

t.test('the loss equals an independent host computation', async (t) => {
  iv.manualSeed(3)
  const levels: FeatureLevel[] = [
    { stride: 8, height: 4, width: 4 },
    { stride: 16, height: 2, width: 2 },
  ]
  const images = [
    { boxes: [2, 2, 18, 20, 10, 4, 31, 30], labels: [1, 2], ignore: [0, 0] },
    { boxes: [0, 16, 14, 32, 16, 0, 32, 10], labels: [0, 2], ignore: [0, 1] },
  ]
  const out = leafOutputs(levels, 2, [3])
  const targets = fcosBatchTargets(levels, images)
  t.ok(targets.numPositives > 0 && targets.ignore.some((v) => v), 'the scene has positives and ignored locations')
  const loss = fcosLoss(out, targets)
  // host: walk locations in fcosPoints order (level, row, column) per image
  const host = (maps: iv.Tensor[]) => maps.map((m) => m.data())
  const cls = host(out.classLogits[0])
  const reg = host(out.boxRegression)
  const ctr = host(out.centerness)
  let clsSum = 0
  let boxSum = 0
  let ctrSum = 0
  let p = 0
  for (let n = 0; n < 2; n++) {
    levels.forEach(({ height, width }, l) => {
      const HW = height * width
      for (let k = 0; k < HW; k++, p++) {
        const label = targets.labels[p]
        if (!targets.ignore[p])
          for (let c = 0; c < 3; c++) clsSum += focal(cls[l][(n * 3 + c) * HW + k], label === c ? 1 : 0)
        if (label < 0) continue
        const d = [0, 1, 2, 3].map((j) => reg[l][(n * 4 + j) * HW + k])
        const g = [...targets.boxes.slice(4 * p, 4 * p + 4)]
        boxSum += 1 - generalizedBoxIou([-d[0], -d[1], d[2], d[3]], [-g[0], -g[1], g[2], g[3]])[0]
        ctrSum += bce(ctr[l][n * HW + k], targets.centerness[p])
      }
    })
  }
  const P = targets.numPositives
  assertClose(
    t,
    [loss.classification.item(), loss.box.item(), loss.centerness.item()],
    [clsSum / P, boxSum / P, ctrSum / P],
    1e-6,
    1e-9,
    'each term',
  )
  assertClose(t, [loss.loss.item()], [(clsSum + boxSum + ctrSum) / P], 1e-6, 1e-9, 'the total')

  loss.loss.backward()
  const g = out.classLogits[0].map((m) => m.grad!.data())
  let p2 = 0
  let ignoredGrads = 0
  for (let n = 0; n < 2; n++) {
    levels.forEach(({ height, width }, l) => {
      const HW = height * width
      for (let k = 0; k < HW; k++, p2++)
        if (targets.ignore[p2]) for (let c = 0; c < 3; c++) ignoredGrads += Math.abs(g[l][(n * 3 + c) * HW + k])
    })
  }
  t.equal(ignoredGrads, 0, 'ignored locations get no classification gradient')
})

t.test('float64 gradcheck of the whole loss', async (t) => {
  iv.manualSeed(5)
  const levels: FeatureLevel[] = [
    { stride: 8, height: 2, width: 2 },
    { stride: 16, height: 1, width: 1 },
  ]
  const out = leafOutputs(levels, 2, [2])
  const targets = fcosBatchTargets(levels, [
    { boxes: [0, 0, 10, 9, 6, 2, 16, 16], labels: [0, 1] },
    { boxes: [1, 1, 15, 15], labels: [1] },
  ])
  t.ok(targets.numPositives >= 3, `${targets.numPositives} positives`)
  t.ok(
    iv.gradcheck(
      (...xs) => {
        const o: FCOSOutputs = {
          classLogits: [xs.slice(0, 2)],
          boxRegression: xs.slice(2, 4),
          centerness: xs.slice(4, 6),
          strides: [8, 16],
        }
        return fcosLoss(o, targets).loss
      },
      [...out.classLogits[0], ...out.boxRegression, ...out.centerness],
    ),
  )
})

t.test('each image trains only its own vocabulary', async (t) => {
  iv.manualSeed(4)
  const out = leafOutputs(grid, 2, [3, 5])
  const targets = fcosBatchTargets(grid, [
    { boxes: [0, 0, 20, 20], labels: [2] },
    { boxes: [8, 8, 30, 30], labels: [4] },
  ])
  fcosLoss(out, targets, { branch: [0, 1] }).loss.backward()
  const [a, b] = out.classLogits.map((levels) => levels[0].grad!)
  const norm = (x: iv.Tensor, n: number) => x.select(0, n).abs().sum().item()
  t.ok(norm(a, 0) > 0 && norm(a, 1) === 0, 'branch 0: gradient from image 0 only')
  t.ok(norm(b, 1) > 0 && norm(b, 0) === 0, 'branch 1: gradient from image 1 only')
  t.throws(
    () => fcosLoss(out, targets, { branch: [0, 0] }),
    /fcosLoss: image 1 has label 4 but its branch 0 has 3 classes/,
  )
  t.throws(
    () => fcosLoss(out, targets, { branch: [0, 2] }),
    /fcosLoss: branch of image 1 must be an integer in \[0, 2\), got 2/,
  )
  t.throws(
    () => fcosLoss(out, fcosBatchTargets(grid, [{ boxes: [], labels: [] }])),
    /fcosLoss: targets cover 16 locations but the outputs have 2 images x 16 locations/,
  )
  const empty = fcosLoss(
    out,
    fcosBatchTargets(grid, [
      { boxes: [], labels: [] },
      { boxes: [], labels: [] },
    ]),
  )
  t.equal(empty.box.item(), 0, 'no positives: box loss 0')
  t.ok(Number.isFinite(empty.loss.item()) && empty.loss.item() > 0, 'and a finite classification loss')
})

t.test('decoding a hand-made output', async (t) => {
  // one image, stride 8, 2x2 locations at (4, 4), (12, 4), (4, 12), (12, 12); two classes
  const level = (values: number[], c: number) => iv.tensor(values, { shape: [1, c, 2, 2] })
  const out: FCOSOutputs = {
    classLogits: [[level([-20, -20, 10, -20, /* class 1 */ 3, 10, -20, 5], 2)]],
    boxRegression: [level([/* l */ 3, 2, 10, 1, /* t */ 3, 3, 2, 7, /* r */ 4, 1, 3, 1, /* b */ 2, 10, 30, 2], 4)],
    centerness: [level([10, 10, 10, 10], 1)],
    strides: [8],
  }
  const [d] = fcosDecode(out, { scoreThreshold: 0.5, nmsIou: 0.5 })
  const s = (x: number) => Math.sqrt(sig(x) * sig(10))
  // (12, 4) class 1: [10, 1, 13, 14]; (4, 12) class 0: [-6, 10, 7, 42] clipped to 16 x 16;
  // (12, 12) class 1: [11, 5, 13, 14] inside the first, IoU 18/39 = 0.46: kept at 0.5;
  // (4, 4) class 1: [1, 1, 8, 6] kept (disjoint).
  t.same([...d.labels], [1, 0, 1, 1])
  assertClose(t, d.scores, [s(10), s(10), s(5), s(3)], 1e-6, 0, 'scores sqrt(p_class * p_centerness), descending')
  t.same(
    [...d.boxes],
    [10, 1, 13, 14, 0, 10, 7, 16, 11, 5, 13, 14, 1, 1, 8, 6],
    'boxes: location -/+ distances, clipped',
  )
  const [strict] = fcosDecode(out, { scoreThreshold: 0.5, nmsIou: 0.3 })
  t.same([...strict.labels], [1, 0, 1], 'NMS at 0.3 drops the overlapping box of the same class')
  t.same([...strict.boxes.slice(8)], [1, 1, 8, 6])
  t.equal(fcosDecode(out, { scoreThreshold: 0.5, maxDetections: 2 })[0].scores.length, 2, 'maxDetections')
  t.equal(fcosDecode(out, { scoreThreshold: 0.99999 })[0].scores.length, 0, 'threshold above every score')
  t.same(
    [...fcosDecode(out, { scoreThreshold: 0.5, imageSize: [12, 12] })[0].boxes.slice(4, 8)],
    [0, 10, 7, 12],
    'imageSize clips',
  )
  t.throws(
    () => fcosDecode(out, { branch: 1 }),
    /fcosDecode: branch \(source vocabulary\) must be an integer in \[0, 1\)/,
  )
  t.throws(() => fcosDecode(out, { nmsIou: 2 }), /fcosDecode: nmsIou must be in \[0, 1\]/)
  const nan = { ...out, centerness: [level([NaN, 0, 0, 0], 1)] }
  t.throws(() => fcosDecode(nan), /fcosDecode: the outputs of image 0 hold NaN at level 0/)
  t.throws(() => fcosDecode({ ...out, centerness: [] }), /fcosDecode: outputs must hold classLogits/)
})

t.test('bad annotations are refused by name', async (t) => {
  t.throws(
    () => fcosTargets(grid, { boxes: [10, 0, 5, 8], labels: [0] }),
    /fcosTargets: objects.boxes box 0 has x2 < x1/,
  )
  t.throws(
    () => fcosTargets(grid, { boxes: [NaN, 0, 5, 8], labels: [0] }),
    /fcosTargets: objects.boxes box 0 is not finite/,
  )
  t.throws(
    () => fcosTargets(grid, { boxes: [0, 0, 5, 8], labels: [12] }, { numClasses: 12 }),
    /fcosTargets: objects.labels\[0\] = 12 is out of range \[0, 12\)/,
  )
  t.throws(() => fcosTargets(grid, { boxes: [0, 0, 5, 8], labels: [-1] }), /objects.labels\[0\] = -1 is out of range/)
  t.same(
    [...fcosTargets(grid, { boxes: [0, 0, 5, 8], labels: [-1], ignore: [1] }).labels].filter((l) => l >= 0),
    [],
    'an ignored box may carry any label',
  )
  t.throws(
    () => fcosTargets(grid, { boxes: [0, 0, 5, 8], labels: [0, 1] }),
    /objects.labels must hold one label per box \(1\), got 2/,
  )
  t.throws(
    () =>
      fcosTargets(
        grid,
        { boxes: [0, 0, 5, 8], labels: [0] },
        {
          ranges: [
            [0, 1],
            [1, 2],
          ],
        },
      ),
    /ranges must give one \[min, max\]/,
  )
  t.throws(
    () => fcosTargets([{ stride: 0, height: 2, width: 2 }], { boxes: [], labels: [] }),
    /fcosTargets: levels must be a non-empty list/,
  )
  t.throws(
    () =>
      fcosBatchTargets(grid, [
        { boxes: [], labels: [] },
        { boxes: [3, 3, 1, 1], labels: [0] },
      ]),
    /x2 < x1.*\(image 1\)/,
  )
})

// The detection, segmentation and depth losses: focal and GIoU losses against hand-worked values
// and PyTorch (values and gradients, float64 and float32), float64 gradchecks of every loss, and
// clear errors for bad input.
import t from 'tap'
import * as iv from '../../../src'
import { depthLoss, generalizedBoxIouLoss, segmentationLoss, sigmoidFocalLoss } from '../../../src/models/heads'
import { assertClose, leaf } from '../../helpers'
import { build, heads } from './fixture'

const tols = { float64: [1e-10, 1e-12], float32: [1e-4, 2e-5] } as const

t.test('focal loss: hand-worked values', async (t) => {
  // logit 0: p = 1/2, BCE = ln 2, (1 - p_t)^2 = 1/4; alpha_t = 0.25 for a positive, 0.75 for a negative
  const out = sigmoidFocalLoss(iv.tensor([0, 0], { dtype: 'float64' }), iv.tensor([1, 0], { dtype: 'float64' }))
  assertClose(t, out.data(), [0.25 * 0.25 * Math.LN2, 0.75 * 0.25 * Math.LN2], 1e-12, 1e-15, 'logit 0')
  // gamma 0 and no alpha is plain BCE: logit 2, target 1 -> log(1 + e^-2)
  const bce = sigmoidFocalLoss(iv.tensor([2], { dtype: 'float64' }), iv.tensor([1], { dtype: 'float64' }), {
    alpha: -1,
    gamma: 0,
  })
  assertClose(t, bce.data(), [Math.log1p(Math.exp(-2))], 1e-12, 1e-15, 'gamma 0 = BCE')
  const sum = sigmoidFocalLoss(iv.tensor([0, 0], { dtype: 'float64' }), iv.tensor([1, 0], { dtype: 'float64' }), {
    reduction: 'sum',
  })
  assertClose(t, [sum.item()], [0.25 * Math.LN2], 1e-12, 1e-15, "reduction 'sum'")
})

t.test('focal loss matches torchvision (values and gradients)', async (t) => {
  for (const c of heads.focal) {
    for (const dtype of ['float64', 'float32'] as const) {
      const [rtol, atol] = tols[dtype]
      const x = build(c.logits, dtype).requiresGrad_()
      const out = sigmoidFocalLoss(x, build(c.targets, dtype), { alpha: c.alpha, gamma: c.gamma })
      assertClose(t, out.data(), c.output.data, rtol, atol, `${c.name} ${dtype} output`)
      out.mul(build(c.gradOutput, dtype)).sum().backward()
      assertClose(t, x.grad!.data(), c.grad.data, rtol, atol, `${c.name} ${dtype} grad`)
    }
  }
})

t.test('GIoU loss: hand-worked values', async (t) => {
  const boxes = iv.tensor(
    [
      [0, 0, 10, 10],
      [2, 2, 6, 6],
      [0, 0, 2, 2],
    ],
    { dtype: 'float64' },
  )
  const targets = iv.tensor(
    [
      [0, 0, 10, 10],
      [0, 0, 10, 10],
      [6, 7, 9, 10],
    ],
    { dtype: 'float64' },
  )
  // identical: 0; nested: 1 - 16/100; disjoint: 1 - (0 - (90 - 13) / 90)
  assertClose(
    t,
    generalizedBoxIouLoss(boxes, targets).data(),
    [0, 0.84, 1 + 77 / 90],
    1e-6,
    1e-7,
    'identical, nested, disjoint',
  )
  assertClose(
    t,
    [generalizedBoxIouLoss(boxes, targets, { reduction: 'mean' }).item()],
    [(0.84 + 1 + 77 / 90) / 3],
    1e-6,
    1e-7,
    'mean',
  )
})

t.test('GIoU loss matches torchvision (values and gradients of both inputs)', async (t) => {
  for (const c of heads.giou) {
    for (const dtype of ['float64', 'float32'] as const) {
      const [rtol, atol] = tols[dtype]
      const b = build(c.boxes, dtype).requiresGrad_()
      const g = build(c.targets, dtype).requiresGrad_()
      const out = generalizedBoxIouLoss(b, g)
      assertClose(t, out.data(), c.output.data, rtol, atol, `${c.name} ${dtype} output`)
      out.mul(build(c.gradOutput, dtype)).sum().backward()
      assertClose(t, b.grad!.data(), c.gradBoxes.data, rtol, atol, `${c.name} ${dtype} grad boxes`)
      assertClose(t, g.grad!.data(), c.gradTargets.data, rtol, atol, `${c.name} ${dtype} grad targets`)
    }
  }
})

t.test('float64 gradcheck of every loss', async (t) => {
  iv.manualSeed(1)
  const targets = iv.rand([3, 4], { dtype: 'float64' })
  t.ok(
    iv.gradcheck((x) => sigmoidFocalLoss(x, targets, { reduction: 'sum' }), [leaf([3, 4])]),
    'focal loss',
  )
  t.ok(
    iv.gradcheck((x) => sigmoidFocalLoss(x, targets, { alpha: 0.7, gamma: 1.5 }), [leaf([3, 4])]),
    'focal loss, gamma 1.5',
  )
  // boxes with x1 < x2 and y1 < y2 that partly overlap their targets
  const corner = () => iv.rand([5, 2], { dtype: 'float64' }).mul(4)
  const box = (c: iv.Tensor) => iv.cat([c, c.add(iv.rand([5, 2], { dtype: 'float64' }).mul(4).add(1))], 1)
  const a = box(corner()).requiresGrad_()
  const b = box(corner()).requiresGrad_()
  t.ok(
    iv.gradcheck((x, y) => generalizedBoxIouLoss(x, y), [a, b]),
    'GIoU loss, both inputs',
  )
  const seg = iv.tensor(Int32Array.from([0, 2, 255, 1, 1, 255, 0, 2]), { shape: [2, 2, 2] })
  t.ok(
    iv.gradcheck((x) => segmentationLoss(x, seg), [leaf([2, 3, 2, 2])]),
    'segmentation loss',
  )
  const depth = iv.rand([2, 3, 3], { dtype: 'float64' }).mul(5)
  const valid = iv.rand([2, 3, 3]).gt(0.3)
  t.ok(
    iv.gradcheck((x) => depthLoss(x, depth, valid), [leaf([2, 1, 3, 3], true)]),
    'depth loss',
  )
})

t.test('segmentation loss: the mean over non-ignored pixels', async (t) => {
  iv.manualSeed(2)
  const logits = iv.randn([1, 3, 2, 2], { dtype: 'float64' })
  const target = iv.tensor(Int32Array.from([2, 255, 0, 255]), { shape: [1, 2, 2] })
  const l = logits.data()
  // pixel p, class c at l[c * 4 + p]
  const nll = (p: number, c: number) =>
    Math.log([0, 1, 2].reduce((s, k) => s + Math.exp(l[k * 4 + p]), 0)) - l[c * 4 + p]
  assertClose(
    t,
    [segmentationLoss(logits, target).item()],
    [(nll(0, 2) + nll(2, 0)) / 2],
    1e-12,
    1e-12,
    'two counted pixels',
  )
  const none = iv.full([1, 2, 2], 255, { dtype: 'int32' })
  const x = logits.clone().requiresGrad_()
  const zero = segmentationLoss(x, none)
  zero.backward()
  t.equal(zero.item(), 0, 'every pixel ignored: 0, not NaN')
  t.same([...x.grad!.data()], new Array(12).fill(0), 'and no gradient')
})

t.test('depth loss: masked L1 ignores unmeasured pixels, even NaN ones', async (t) => {
  const pred = iv
    .tensor(
      [
        [
          [1, 2],
          [3, 4],
        ],
      ],
      { dtype: 'float64' },
    )
    .requiresGrad_()
  const depth = iv.tensor(
    [
      [
        [1.5, NaN],
        [2, 0],
      ],
    ],
    { dtype: 'float64' },
  )
  const valid = iv.tensor(
    [
      [
        [1, 0],
        [1, 0],
      ],
    ],
    { dtype: 'bool' },
  )
  const loss = depthLoss(pred, depth, valid)
  assertClose(t, [loss.item()], [(0.5 + 1) / 2], 1e-12, 1e-12, 'mean of |1 - 1.5| and |3 - 2|')
  loss.backward()
  t.same([...pred.grad!.data()], [-0.5, 0, 0.5, 0], 'gradient only where measured')
  const all = depthLoss(iv.tensor([[[1, 2]]], { dtype: 'float64' }), iv.tensor([[[2, 4]]], { dtype: 'float64' }))
  t.equal(all.item(), 1.5, 'no mask: every pixel counts')
})

t.test('bad input is refused by name', async (t) => {
  const x = iv.zeros([2, 4])
  t.throws(
    () => sigmoidFocalLoss(x, iv.zeros([2, 3])),
    /sigmoidFocalLoss: target \[2, 3\] must have the input's shape \[2, 4\]/,
  )
  t.throws(
    () => sigmoidFocalLoss(x, iv.zeros([2, 4]), { gamma: -1 }),
    /sigmoidFocalLoss: gamma must be a non-negative number/,
  )
  t.throws(() => sigmoidFocalLoss(x, iv.zeros([2, 4], { dtype: 'float64' })), /input is float32 but target is float64/)
  t.throws(
    () => generalizedBoxIouLoss(iv.zeros([2, 3]), iv.zeros([2, 3])),
    /generalizedBoxIouLoss: boxes must be \[\.\.\., 4\]/,
  )
  t.throws(
    () => generalizedBoxIouLoss(iv.zeros([2, 4]), iv.zeros([2, 4]), { reduction: 'max' as 'sum' }),
    /reduction must be/,
  )
  const logits = iv.zeros([1, 3, 2, 2])
  t.throws(() => segmentationLoss(logits, iv.zeros([1, 2, 2])), /segmentationLoss: target must be an int32 Tensor/)
  t.throws(
    () => segmentationLoss(logits, iv.zeros([1, 2, 3], { dtype: 'int32' })),
    /segmentationLoss: target \[1, 2, 3\] must be \[1, 2, 2\]/,
  )
  t.throws(
    () => segmentationLoss(logits, iv.full([1, 2, 2], 3, { dtype: 'int32' })),
    /segmentationLoss: target holds class 3 at element 0, outside \[0, 3\)/,
  )
  t.throws(
    () => depthLoss(iv.zeros([1, 1, 2, 2]), iv.zeros([1, 2, 3])),
    /depthLoss: pred \[1, 1, 2, 2\] must be .* matching depth \[1, 2, 3\]/,
  )
  t.throws(
    () => depthLoss(iv.zeros([1, 2, 2]), iv.full([1, 2, 2], NaN)),
    /depthLoss: depth at element 0 is NaN where valid is set/,
  )
  t.throws(
    () => depthLoss(iv.zeros([1, 2, 2]), iv.zeros([1, 2, 2]), iv.zeros([2, 2])),
    /depthLoss: valid must be a Tensor shaped like depth/,
  )
})

// The Up-A losses: parity with PyTorch (test/fixtures/intern_losses.json from
// scripts/fixtures/intern_losses.py; value and gradient w.r.t. every input, float64 and
// float32), float64 gradchecks, hand-worked values, the queue's FIFO and state, bad inputs.
import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'
import { eye, full, Generator, gradcheck, randn, tensor, zeros, type Tensor } from '../../src'
import {
  amateurLoss,
  imageTextInfoNCE,
  LOGIT_SCALE_INIT,
  LOGIT_SCALE_MAX,
  maskedLanguageModelLoss,
  nearestNeighbourLoss,
  simClrLoss,
  simSiamLoss,
  TextFeatureQueue,
  type AmateurLossInputs,
  type AmateurWeights,
} from '../../src/intern/losses'
import { assertClose } from '../helpers'

interface Enc {
  shape: number[]
  data: number[]
  dtype?: 'int32'
}
interface Case {
  op: string
  name: string
  options: Record<string, unknown>
  inputs: Record<string, Enc>
  output: Enc
  terms: Record<string, Enc>
  grads: Record<string, Enc>
}
type DType = 'float32' | 'float64'

const fixture = path.join(__dirname, '..', 'fixtures', 'intern_losses.json')
const cases = (JSON.parse(fs.readFileSync(fixture, 'utf8')) as { cases: Case[] }).cases
const tols = { float64: [1e-9, 1e-10], float32: [2e-4, 2e-5] } as const

const gen = new Generator(11)
const rg = (shape: number[]) => randn(shape, { dtype: 'float64', generator: gen }).requiresGrad_()

/** A float queue of the fixture's raw rows (enqueue normalises them, as the fixture's bank). */
function queueOf(rows: Tensor): TextFeatureQueue {
  const q = new TextFeatureQueue(rows.shape[0], rows.shape[1]).to(rows.dtype as DType)
  q.enqueue(rows)
  return q
}

type Call = (c: Case, i: Record<string, Tensor>) => { total: Tensor; terms?: Record<string, Tensor> }
const calls: Record<string, Call> = {
  imageTextInfoNCE: (_, i) => ({ total: imageTextInfoNCE(i.a, i.b, i.logit_scale) }),
  simSiamLoss: (_, i) => ({ total: simSiamLoss(i.p1, i.p2, i.z1, i.z2) }),
  simClrLoss: (c, i) => ({ total: simClrLoss(i.z1, i.z2, c.options.temperature as number) }),
  maskedLanguageModelLoss: (_, i) => ({ total: maskedLanguageModelLoss(i.logits, i.labels) }),
  nearestNeighbourLoss: (_, i) => ({ total: nearestNeighbourLoss(i.image, i.text, queueOf(i.queue), i.logit_scale) }),
  amateurLoss: (c, i) => {
    const inputs: AmateurLossInputs = {
      imageFeatures: [i.image0, i.image1],
      textFeatures: [i.text0, i.text1],
      logitScale: i.logit_scale,
      queue: queueOf(i.queue),
      mlm: { logits: i.mlm_logits, labels: i.mlm_labels },
    }
    if (c.options.selfSupervised === 'simsiam') inputs.simsiam = { p: [i.p1, i.p2], z: [i.z1, i.z2] }
    else inputs.simclr = { z: [i.z1, i.z2], temperature: c.options.temperature as number }
    const { total, terms } = amateurLoss(inputs, c.options.weights as AmateurWeights)
    return { total, terms: terms as Record<string, Tensor> }
  },
}

t.test('every loss matches PyTorch: value and gradient w.r.t. every input', async (t) => {
  t.same([...new Set(cases.map((c) => c.op))].sort(), Object.keys(calls).sort(), 'the fixture covers every loss')
  for (const c of cases) {
    for (const dtype of ['float64', 'float32'] as const) {
      const [rtol, atol] = tols[dtype]
      const label = `${c.op} '${c.name}' ${dtype}`
      const inputs: Record<string, Tensor> = {}
      for (const [k, e] of Object.entries(c.inputs)) {
        inputs[k] = tensor(e.data, { shape: e.shape, dtype: e.dtype ?? dtype })
        if (c.grads[k]) inputs[k].requiresGrad_()
      }
      const { total, terms = {} } = calls[c.op](c, inputs)
      assertClose(t, total.data(), c.output.data, rtol, atol, `${label} value`)
      t.same(Object.keys(terms).sort(), Object.keys(c.terms).sort(), `${label} terms computed`)
      for (const [k, e] of Object.entries(c.terms))
        assertClose(t, terms[k].data(), e.data, rtol, atol, `${label} term ${k}`)
      total.backward()
      for (const [k, e] of Object.entries(c.grads)) {
        const g = inputs[k].grad ?? zeros(inputs[k].shape, { dtype })
        assertClose(t, g.data(), e.data, rtol, atol, `${label} grad ${k}`)
      }
    }
  }
})

t.test('float64 gradcheck', async (t) => {
  t.ok(
    gradcheck(
      (a, b, s) => imageTextInfoNCE(a, b, s),
      [rg([4, 3]), rg([4, 3]), full([], 1.3, { dtype: 'float64' }).requiresGrad_()],
    ),
    'imageTextInfoNCE',
  )
  const z1 = randn([3, 4], { dtype: 'float64', generator: gen })
  const z2 = randn([3, 4], { dtype: 'float64', generator: gen })
  t.ok(
    gradcheck((p1, p2) => simSiamLoss(p1, p2, z1, z2), [rg([3, 4]), rg([3, 4])]),
    'simSiamLoss (p; z is stopped)',
  )
  t.ok(
    gradcheck((a, b) => simClrLoss(a, b, 0.3), [rg([3, 4]), rg([3, 4])]),
    'simClrLoss',
  )
  const labels = tensor(
    [
      [1, -100, 4],
      [-100, 0, 2],
    ],
    { dtype: 'int32' },
  )
  t.ok(
    gradcheck((x) => maskedLanguageModelLoss(x, labels), [rg([2, 3, 5])]),
    'maskedLanguageModelLoss',
  )
  const queue = queueOf(randn([5, 3], { dtype: 'float64', generator: gen }))
  t.ok(
    gradcheck(
      (img, txt, s) => nearestNeighbourLoss(img, txt, queue, s),
      [rg([4, 3]), rg([4, 3]), full([], 2, { dtype: 'float64' }).requiresGrad_()],
    ),
    'nearestNeighbourLoss (texts get 0)',
  )
  const mlmLabels = tensor(
    [
      [2, -100],
      [-100, 1],
    ],
    { dtype: 'int32' },
  )
  t.ok(
    gradcheck(
      (i0, i1, t0, t1, s, p1, p2, mlm) =>
        amateurLoss({
          imageFeatures: [i0, i1],
          textFeatures: [t0, t1],
          logitScale: s,
          queue,
          simsiam: { p: [p1, p2], z: [z1.narrow(0, 0, 2), z2.narrow(0, 0, 2)] },
          mlm: { logits: mlm, labels: mlmLabels },
        }).total,
      [
        rg([2, 3]),
        rg([2, 3]),
        rg([2, 3]),
        rg([2, 3]),
        full([], 1, { dtype: 'float64' }).requiresGrad_(),
        rg([2, 4]),
        rg([2, 4]),
        rg([2, 2, 3]),
      ],
    ),
    'amateurLoss',
  )
})

t.test('hand-worked values', async (t) => {
  // Orthonormal, matching features at scale log 10: logits [[10, 0], [0, 10]] both ways.
  const s = full([], Math.log(10), { dtype: 'float64' })
  assertClose(
    t,
    [imageTextInfoNCE(eye(2, 2, { dtype: 'float64' }).mul(3), eye(2, 2, { dtype: 'float64' }), s).item()],
    [Math.log1p(Math.exp(-10))],
    1e-9,
    0,
    'CLIP on orthonormal pairs',
  )
  const z = randn([3, 5], { dtype: 'float64', generator: gen })
  assertClose(t, [simSiamLoss(z.mul(2), z, z, z.mul(0.5)).item()], [-1], 1e-12, 0, 'SimSiam: p parallel to z gives -1')
  assertClose(t, [simSiamLoss(z.neg(), z.neg(), z, z).item()], [1], 1e-12, 0, 'SimSiam: p opposite to z gives 1')
  // Two images with parallel views and orthogonal images: each row scores 1/T with its partner, 0 with the other two.
  const T = 0.5
  assertClose(
    t,
    [simClrLoss(eye(2, 3, { dtype: 'float64' }), eye(2, 3, { dtype: 'float64' }).mul(4), T).item()],
    [Math.log(Math.exp(1 / T) + 2) - 1 / T],
    1e-12,
    0,
    'NT-Xent on orthogonal pairs',
  )
  assertClose(
    t,
    [
      maskedLanguageModelLoss(
        zeros([1, 3, 6], { dtype: 'float64' }),
        tensor([[-100, 2, 5]], { dtype: 'int32' }),
      ).item(),
    ],
    [Math.log(6)],
    1e-12,
    0,
    'MLM on uniform logits is log V',
  )
})

t.test('the logit scale is clamped at log 100, where its gradient stops', async (t) => {
  const a = randn([4, 3], { dtype: 'float64', generator: gen })
  const b = randn([4, 3], { dtype: 'float64', generator: gen })
  const at = (v: number) => {
    const scale = full([], v, { dtype: 'float64' }).requiresGrad_()
    const loss = imageTextInfoNCE(a, b, scale)
    loss.backward()
    return { value: loss.item(), grad: (scale.grad as Tensor).item() }
  }
  const bound = at(LOGIT_SCALE_MAX)
  const above = at(LOGIT_SCALE_MAX + 1)
  t.equal(above.value, bound.value, 'above the bound the logits keep a factor of 100')
  t.equal(above.grad, 0, 'no gradient above the bound')
  t.not(bound.grad, 0, 'the gradient passes at the bound itself')
  t.not(at(LOGIT_SCALE_INIT).grad, 0, 'and below it')
  assertClose(t, [LOGIT_SCALE_INIT], [Math.log(1 / 0.07)], 1e-15, 0, 'CLIP initial scale')
})

t.test('masked LM with nothing masked gives 0 and a zero gradient', async (t) => {
  const logits = rg([2, 3, 4])
  const loss = maskedLanguageModelLoss(logits, full([2, 3], -100, { dtype: 'int32' }))
  t.equal(loss.item(), 0)
  loss.backward()
  t.same(Array.from((logits.grad as Tensor).data()), new Array(24).fill(0))
})

t.test('the nearest-neighbour term', async (t) => {
  const img = randn([4, 3], { dtype: 'float64', generator: gen })
  const txt = randn([4, 3], { dtype: 'float64', generator: gen })
  const s = full([], 2, { dtype: 'float64' })
  // A queue holding exactly the batch's texts: every neighbour is the caption itself.
  assertClose(
    t,
    [nearestNeighbourLoss(img, txt, queueOf(txt.mul(5)), s).item()],
    [imageTextInfoNCE(img, txt, s).item()],
    1e-12,
    0,
    'neighbours = own captions gives CLIP',
  )
  const empty = new TextFeatureQueue(8, 3).to('float64')
  const leafImg = img.detach().requiresGrad_()
  const zero = nearestNeighbourLoss(leafImg, txt, empty, s)
  t.equal(zero.item(), 0, 'an empty queue gives 0')
  zero.backward()
  t.same(Array.from((leafImg.grad as Tensor).data()), new Array(12).fill(0), 'with zero gradient')
})

t.test('TextFeatureQueue: a FIFO of normalised rows, no gradient, state in the state dict', async (t) => {
  const rows = (vals: number[][]) => tensor(vals)
  const q = new TextFeatureQueue(4, 2)
  t.equal(q.size, 0)
  t.throws(() => q.nearest(rows([[1, 0]])), /TextFeatureQueue.nearest: the queue is empty/)
  const a = rows([
    [3, 0],
    [0, 2],
    [1, 1],
  ]).requiresGrad_()
  q.enqueue(a)
  t.equal(q.size, 3)
  q.enqueue(
    rows([
      [0, -1],
      [-5, 0],
      [2, 2],
    ]),
  )
  t.equal(q.size, 4, 'capacity reached')
  const h = Math.SQRT1_2
  // rows 3, 0, 1 take the second batch; row 2 keeps the last of the first: [b1, b2, a2, b0].
  assertClose(t, q.contents().data(), [-1, 0, h, h, h, h, 0, -1], 1e-6, 0, 'oldest rows replaced, each normalised')
  t.equal(q.features.requiresGrad, false, 'the bank holds no gradient')
  assertClose(
    t,
    q
      .nearest(
        rows([
          [-2, 0.1],
          [0.1, -3],
        ]),
      )
      .data(),
    [-1, 0, 0, -1],
    1e-6,
    0,
    'top-1 by cosine',
  )
  const twin = new TextFeatureQueue(4, 2)
  twin.loadStateDict(q.stateDict())
  t.equal(twin.size, 4, 'size restored')
  t.same(Array.from(twin.contents().data()), Array.from(q.contents().data()), 'rows restored')
  q.enqueue(rows([[1, 0]]))
  twin.enqueue(rows([[1, 0]]))
  t.same(
    Array.from(twin.features.data()),
    Array.from(q.features.data()),
    'and the write position: the next row lands in the same place',
  )
  const big = new TextFeatureQueue(2, 1)
  big.enqueue(rows([[1], [-1], [2]]))
  t.same(Array.from(big.contents().data()), [-1, 1], 'more rows than capacity: the last ones stay')
})

t.test('amateurLoss: weights, skipped terms, totals', async (t) => {
  const n = 3
  const img = [randn([n, 4], { generator: gen }), randn([n, 4], { generator: gen })]
  const txt = [randn([n, 4], { generator: gen }), randn([n, 4], { generator: gen })]
  const s = full([], LOGIT_SCALE_INIT)
  const only = amateurLoss(
    { imageFeatures: img, textFeatures: txt, logitScale: s },
    { clip: 1, nn: 0, simsiam: 0, mlm: 0 },
  )
  t.same(Object.keys(only.terms), ['clip'], 'a zero weight skips its term, whose inputs may be absent')
  const pairs = img.flatMap((i) => txt.map((x) => imageTextInfoNCE(i, x, s).item()))
  assertClose(
    t,
    [only.total.item()],
    [pairs.reduce((a, b) => a + b) / 4],
    1e-6,
    0,
    'clip is the mean over the 2 x 2 view pairs',
  )
  const half = amateurLoss(
    { imageFeatures: img, textFeatures: txt, logitScale: s },
    { clip: 0.5, nn: 0, simsiam: 0, mlm: 0 },
  )
  assertClose(t, [half.total.item()], [0.5 * only.total.item()], 1e-6, 0, 'weights scale the terms')
  t.throws(
    () => amateurLoss({ imageFeatures: img, textFeatures: txt, logitScale: s }),
    /amateurLoss: the nn term \(weight 0.2\) needs a queue/,
  )
  t.throws(
    () => amateurLoss({ imageFeatures: img, textFeatures: txt, logitScale: s, queue: new TextFeatureQueue(4, 4) }),
    /amateurLoss: the simsiam term \(weight 0.2\) needs simsiam \(or simclr\) inputs/,
  )
  t.throws(
    () => amateurLoss({}, { clip: 1, nn: 0, simsiam: 0, mlm: 0 }),
    /amateurLoss: the clip term \(weight 1\) needs logitScale/,
  )
  t.throws(
    () => amateurLoss({ logitScale: s }, { clip: 1, nn: 0, simsiam: 0, mlm: 0 }),
    /amateurLoss: imageFeatures must be a non-empty array/,
  )
  t.throws(() => amateurLoss({}, { clip: 0, nn: 0, simsiam: 0, mlm: 0 }), /amateurLoss: every loss weight is 0/)
  t.throws(() => amateurLoss({}, { clip: -1 }), /amateurLoss: weight 'clip' must be a finite number >= 0, got -1/)
  t.throws(() => amateurLoss({}, { clip: NaN }), /weight 'clip' must be a finite number >= 0, got NaN/)
  t.throws(
    () => amateurLoss({}, { clips: 1 } as unknown as AmateurWeights),
    /amateurLoss: unknown loss weight 'clips'; the terms are clip, nn, simsiam, mlm/,
  )
  const z = [randn([n, 4], { generator: gen }), randn([n, 4], { generator: gen })] as [Tensor, Tensor]
  t.throws(
    () => amateurLoss({ simsiam: { p: z, z }, simclr: { z } }, { clip: 0, nn: 0, simsiam: 1, mlm: 0 }),
    /give simsiam or simclr inputs, not both/,
  )
})

t.test('bad inputs get clear errors naming the loss and the shapes', async (t) => {
  const f = (shape: number[]) => zeros(shape)
  const s = full([], 1)
  t.throws(
    () => imageTextInfoNCE(f([4, 3]), f([5, 3]), s),
    /imageTextInfoNCE: textFeatures \[5, 3\] does not match imageFeatures \[4, 3\]/,
  )
  t.throws(
    () => imageTextInfoNCE(f([4, 3, 1]), f([4, 3, 1]), s),
    /imageTextInfoNCE: imageFeatures must be \[N, D\], got \[4, 3, 1\]/,
  )
  t.throws(
    () => imageTextInfoNCE(f([0, 3]), f([0, 3]), s),
    /imageTextInfoNCE: imageFeatures is an empty batch \[0, 3\]/,
  )
  t.throws(
    () => imageTextInfoNCE(f([2, 3]), f([2, 3]), f([2])),
    /imageTextInfoNCE: logitScale must hold one value, got \[2\]/,
  )
  t.throws(
    () => imageTextInfoNCE(f([2, 3]), f([2, 3]), full([], 1, { dtype: 'float64' })),
    /logitScale is float64 but the features are float32/,
  )
  t.throws(
    () => imageTextInfoNCE(f([2, 3]), zeros([2, 3], { dtype: 'float64' }), s),
    /imageTextInfoNCE: textFeatures is float64 but imageFeatures is float32/,
  )
  t.throws(
    () => imageTextInfoNCE(zeros([2, 3], { dtype: 'int32' }), f([2, 3]), s),
    /imageTextInfoNCE: imageFeatures must be floating-point, got int32/,
  )
  t.throws(
    () => simSiamLoss(f([4, 3]), f([4, 3]), f([4, 3]), f([3, 3])),
    /simSiamLoss: z2 \[3, 3\] does not match p1 \[4, 3\]/,
  )
  t.throws(() => simSiamLoss(f([4]), f([4]), f([4]), f([4])), /simSiamLoss: p1 must be \[N, D\], got \[4\]/)
  t.throws(() => simClrLoss(f([2, 3]), f([2, 4])), /simClrLoss: z2 \[2, 4\] does not match z1 \[2, 3\]/)
  t.throws(() => simClrLoss(f([2, 3]), f([2, 3]), 0), /simClrLoss: temperature must be a finite number > 0, got 0/)
  t.throws(() => simClrLoss(f([0, 3]), f([0, 3])), /simClrLoss: z1 is an empty batch/)
  const labels = tensor([[1, -100]], { dtype: 'int32' })
  t.throws(
    () => maskedLanguageModelLoss(f([2, 2, 5]), labels),
    /maskedLanguageModelLoss: labels \[1, 2\] must be logits \[2, 2, 5\] without the vocabulary dimension/,
  )
  t.throws(
    () => maskedLanguageModelLoss(f([1, 2, 5]), tensor([[1, 0]])),
    /maskedLanguageModelLoss: labels must be int32 token ids/,
  )
  t.throws(
    () => maskedLanguageModelLoss(f([1, 2, 5]), tensor([[1, 5]], { dtype: 'int32' })),
    /maskedLanguageModelLoss: label 5 is outside the vocabulary of 5/,
  )
  t.throws(
    () => maskedLanguageModelLoss(f([5]), tensor([1], { dtype: 'int32' }).reshape([])),
    /maskedLanguageModelLoss: logits must be \[\.\.\., vocabSize\], got \[5\]/,
  )
  t.throws(
    () => maskedLanguageModelLoss(f([0, 2, 5]), zeros([0, 2], { dtype: 'int32' })),
    /maskedLanguageModelLoss: empty batch/,
  )
  const q = new TextFeatureQueue(4, 3)
  t.throws(
    () => nearestNeighbourLoss(f([2, 4]), f([2, 4]), q, s),
    /nearestNeighbourLoss: textFeatures \[2, 4\] do not fit a queue of 3-dimensional features/,
  )
  t.throws(
    () => nearestNeighbourLoss(f([2, 3]), f([3, 3]), q, s),
    /nearestNeighbourLoss: textFeatures \[3, 3\] does not match imageFeatures \[2, 3\]/,
  )
  t.throws(
    () => nearestNeighbourLoss(f([2, 3]), f([2, 3]), {} as TextFeatureQueue, s),
    /nearestNeighbourLoss: queue must be a TextFeatureQueue/,
  )
  t.throws(() => q.enqueue(f([2, 4])), /TextFeatureQueue.enqueue: features \[2, 4\] must have 3 columns/)
  t.throws(() => new TextFeatureQueue(0, 3), /TextFeatureQueue: capacity must be a positive integer, got 0/)
})

// autocast('bfloat16'): which ops lower their inputs and which widen them, the values they
// compute (against the same op on explicitly rounded inputs), float32 gradients for float32
// parameters, a backward pass outside the region, nesting, freeing, and errors.
import t from 'tap'
import * as iv from '../../src'
import { assertClose, collectGarbage } from '../helpers'

const bf16 = (x: iv.Tensor) => x.to('bfloat16')
const rounded = (x: iv.Tensor) => x.to('bfloat16').to('float32')

t.test('matmul, linear, conv and attention compute in bfloat16 on bfloat16-rounded inputs', async (t) => {
  const a = iv.randn([5, 7])
  const b = iv.randn([7, 3])
  const w = iv.randn([4, 7])
  const bias = iv.randn([4])
  const x = iv.randn([2, 3, 6, 6])
  const k = iv.randn([5, 3, 3, 3])
  const [q, kk, v] = [iv.randn([2, 4, 8]), iv.randn([2, 6, 8]), iv.randn([2, 6, 8])]
  const low = iv.autocast('bfloat16', () => ({
    matmul: iv.matmul(a, b),
    linear: iv.linear(a, w, bias),
    conv2d: iv.conv2d(x, k, null, { padding: 1 }),
    convTranspose2d: iv.convTranspose2d(x, k.transpose(0, 1), null),
    attention: iv.scaledDotProductAttention(q, kk, v),
  }))
  // The same ops outside autocast on bfloat16 tensors made by hand.
  const want = {
    matmul: iv.matmul(bf16(a), bf16(b)),
    linear: iv.linear(bf16(a), bf16(w), bf16(bias)),
    conv2d: iv.conv2d(bf16(x), bf16(k), null, { padding: 1 }),
    convTranspose2d: iv.convTranspose2d(bf16(x), bf16(k.transpose(0, 1)), null),
    attention: iv.scaledDotProductAttention(bf16(q), bf16(kk), bf16(v)),
  }
  for (const [name, y] of Object.entries(low)) {
    t.equal(y.dtype, 'bfloat16', `${name} runs in bfloat16`)
    t.same(Array.from(y.data()), Array.from(want[name as keyof typeof want].data()), `${name} values`)
  }
  // And close to float32 on the rounded inputs (float32 accumulation, one final rounding).
  const ref = iv.matmul(rounded(a), rounded(b))
  assertClose(t, low.matmul.data(), ref.data(), 2 ** -8, 1e-6, 'matmul within one bfloat16 rounding')
})

t.test('norms, softmax, losses and sums widen bfloat16 inputs to float32', async (t) => {
  const h = iv.randn([4, 6, 3, 3], { dtype: 'bfloat16' })
  const m = iv.randn([4, 10], { dtype: 'bfloat16' })
  const target = iv.tensor([1, 0, 9, 3], { dtype: 'int32' })
  const out = iv.autocast('bfloat16', () => ({
    batchNorm: iv.batchNorm(h, null, null, null, null, { training: true }),
    layerNorm: iv.layerNorm(m, 10),
    groupNorm: iv.groupNorm(h, 2),
    softmax: iv.softmax(m, 1),
    logSoftmax: iv.logSoftmax(m, 1),
    crossEntropy: iv.crossEntropy(m, target),
    mseLoss: iv.mseLoss(m, m.mul(2)),
    smoothL1Loss: iv.smoothL1Loss(m, m.mul(2)),
    sum: m.sum(1),
    mean: m.mean(),
    variance: iv.variance(m, 1),
    logsumexp: iv.logsumexp(m, 1),
    normalize: iv.normalize(m),
  }))
  for (const [name, y] of Object.entries(out)) t.equal(y.dtype, 'float32', `${name} runs in float32`)
  const wide = m.to('float32')
  t.same(Array.from(out.softmax.data()), Array.from(iv.softmax(wide, 1).data()), 'softmax of the widened input')
  t.equal(out.crossEntropy.item(), iv.crossEntropy(wide, target).item())
})

t.test('other dtypes pass through: float64 stays float64, elementwise ops keep their input dtype', async (t) => {
  const d = iv.randn([3, 3], { dtype: 'float64' })
  const f = iv.randn([3, 3])
  iv.autocast('bfloat16', () => {
    t.equal(iv.matmul(d, d).dtype, 'float64', 'float64 is not lowered')
    t.equal(f.add(f).exp().dtype, 'float32', 'ops on neither list are untouched')
    t.equal(iv.matmul(f, f).add(f).dtype, 'float32', 'bfloat16 + float32 promotes to float32')
  })
})

t.test('float32 parameters get float32 gradients close to the float32 ones', async (t) => {
  iv.manualSeed(3)
  const lin = new iv.nn.Linear(16, 8)
  const x = iv.randn([32, 16])
  const y = iv.randn([32, 8])
  const grads = (precision: 'bf16' | 'float32') => {
    lin.zeroGrad()
    const run = () => iv.mseLoss(lin.forward(x), y)
    const loss = precision === 'bf16' ? iv.autocast('bfloat16', run) : run()
    loss.backward()
    return lin.parameters().map((p) => p.grad!)
  }
  const [gw32, gb32] = grads('float32').map((g) => g.clone())
  const [gw, gb] = grads('bf16')
  t.equal(gw.dtype, 'float32')
  t.equal(gb.dtype, 'float32')
  const norm = (v: iv.Tensor) => Math.sqrt(v.square().sum().item())
  const rel = (g: iv.Tensor, ref: iv.Tensor) => norm(g.sub(ref)) / norm(ref)
  t.ok(rel(gw, gw32) < 0.02, `weight gradient within 2% (relative error ${rel(gw, gw32).toFixed(4)})`)
  t.ok(rel(gb, gb32) < 0.02, `bias gradient within 2% (relative error ${rel(gb, gb32).toFixed(4)})`)
})

t.test('the backward pass runs outside autocast, wherever it is called', async (t) => {
  const w = iv.randn([6, 6], { requiresGrad: true })
  const x = iv.randn([4, 6])
  const inside = iv.autocast('bfloat16', () => {
    const loss = iv.matmul(x, w).float().pow(2).sum()
    loss.backward()
    return w.grad!.clone()
  })
  w.grad = null
  const loss = iv.autocast('bfloat16', () => iv.matmul(x, w).float().pow(2).sum())
  loss.backward()
  t.same(Array.from(inside.data()), Array.from(w.grad!.data()), 'the same gradient either way')
})

t.test('nesting, enabled: false, restoring after a throw', async (t) => {
  const a = iv.randn([2, 2])
  t.equal(iv.isAutocastEnabled(), false)
  iv.autocast('bfloat16', () => {
    t.equal(iv.autocastDType(), 'bfloat16')
    iv.autocast('bfloat16', () => t.equal(iv.matmul(a, a).dtype, 'float32'), { enabled: false })
    t.equal(iv.matmul(a, a).dtype, 'bfloat16', 'back on after the inner region')
  })
  t.throws(() =>
    iv.autocast('bfloat16', () => {
      throw new Error('boom')
    }),
  )
  t.equal(iv.isAutocastEnabled(), false, 'off again after the throw')
})

t.test('casts made without a graph are freed at once', async (t) => {
  const a = iv.randn([64, 64])
  collectGarbage()
  const before = iv.memoryStats().bytes
  const y = iv.noGrad(() => iv.autocast('bfloat16', () => iv.matmul(a, a)))
  t.equal(iv.memoryStats().bytes - before, y.numel * 2, 'only the bfloat16 result stays')
})

t.test('bad input', async (t) => {
  t.throws(() => iv.autocast('float16' as never, () => 0), /autocast: unsupported dtype "float16"/)
  t.throws(() => iv.autocast('bfloat16', 3 as never), /autocast: expected a function to run/)
})

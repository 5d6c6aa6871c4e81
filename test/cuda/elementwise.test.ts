// Elementwise ops on CUDA against the CPU backend: float unary ops (with NaNs), binary ops
// with broadcasting and their gradients, comparisons, where, dtype conversion and fill, on
// contiguous and strided views.
import t from 'tap'
import * as iv from '../../src'
import { FLOATS, assertParity, checkBoth, noGpu, rnd } from './parity'

t.test('unary ops and their gradients', { skip: noGpu }, async (t) => {
  const unary: [string, (x: iv.Tensor) => iv.Tensor][] = [
    ['exp', (x) => x.exp()],
    ['tanh', (x) => x.tanh()],
    ['sigmoid', (x) => x.sigmoid()],
    ['relu', (x) => x.relu()],
    ['gelu', (x) => iv.gelu(x)],
    ['gelu tanh', (x) => iv.gelu(x, 'tanh')],
    ['silu', (x) => iv.silu(x)],
    ['clamp', (x) => iv.clamp(x, -0.5, 0.7)],
    ['leakyRelu', (x) => iv.leakyRelu(x, 0.1)],
    ['sqrt of |x| + 0.1', (x) => x.abs().add(0.1).sqrt()],
    ['log of |x| + 0.1', (x) => x.abs().add(0.1).log()],
  ]
  for (const dtype of FLOATS)
    for (const [name, f] of unary) {
      checkBoth(t, `${name} ${dtype}`, [rnd([257, 33], dtype)], f, [true])
      checkBoth(t, `${name} ${dtype} transposed`, [rnd([33, 257], dtype)], (x) => f(x.transpose(0, 1)))
      checkBoth(t, `${name} ${dtype} with NaN`, [rnd([1001], dtype, true)], f)
    }
})

t.test('binary ops with broadcasting, and their gradients', { skip: noGpu }, async (t) => {
  for (const dtype of FLOATS) {
    const a = rnd([64, 1, 30], dtype)
    const b = rnd([1, 17, 30], dtype)
    checkBoth(t, `add ${dtype}`, [a, b], (x, y) => x.add(y, 0.5), [true, true])
    checkBoth(t, `mul ${dtype}`, [a, b], (x, y) => x.mul(y), [true, true])
    checkBoth(t, `div ${dtype}`, [a, b], (x, y) => x.div(y.abs().add(0.5)), [true, true])
    checkBoth(t, `maximum ${dtype}`, [a, b], (x, y) => iv.maximum(x, y), [true, true])
    checkBoth(t, `pow ${dtype}`, [a, b], (x, y) => x.abs().add(0.1).pow(y), [true, true])
  }
})

t.test('comparisons, where, conversion and fill', { skip: noGpu }, async (t) => {
  const a = rnd([300, 7], 'float32')
  const b = rnd([300, 7], 'float32')
  for (const [name, f] of [
    ['lt', iv.lt],
    ['ge', iv.ge],
    ['eq', iv.eq],
  ] as const)
    assertParity(t, name, f(a.cuda(), b.cuda()), f(a, b))
  const c = iv.lt(a, b)
  assertParity(t, 'where', iv.where(c.cuda(), a.cuda(), b.cuda()), iv.where(c, a, b))
  for (const dtype of ['float64', 'int32', 'uint8', 'bool'] as const)
    assertParity(t, `float32 -> ${dtype}`, a.cuda().mul(10).to(dtype), a.mul(10).to(dtype))
  const filled = (device: 'cpu' | 'cuda') => iv.zeros([9, 8], { device }).transpose(0, 1).fill_(2.5)
  assertParity(t, 'fill of a transposed view', filled('cuda'), filled('cpu'))
  const ints = iv.randint(-50, 50, [400], { dtype: 'int32' })
  assertParity(t, 'int32 abs', ints.cuda().abs(), ints.abs())
})

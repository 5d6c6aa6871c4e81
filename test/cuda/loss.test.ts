// crossEntropy on CUDA against the CPU backend: class indices (with ignoreIndex, class
// weights and label smoothing), spatial targets and probability targets, every reduction,
// with gradients; and the same refusal of an out-of-range target.
import t from 'tap'
import * as iv from '../../src'
import { FLOATS, checkBoth, noGpu, rnd } from './parity'

t.test('crossEntropy with gradients', { skip: noGpu }, async (t) => {
  for (const dtype of FLOATS) {
    const target = iv.randint(0, 10, [64], { dtype: 'int32' })
    const logits = rnd([64, 10], dtype)
    for (const reduction of ['mean', 'sum', 'none'] as const)
      checkBoth(t, `indices ${reduction} ${dtype}`, [logits, target], (x, y) => iv.crossEntropy(x, y, { reduction }), [true])
    checkBoth(t, `ignoreIndex, weights, smoothing ${dtype}`, [logits, target.sub(1), rnd([10], dtype).abs()], (x, y, w) =>
      iv.crossEntropy(x, y, { ignoreIndex: -1, weight: w, labelSmoothing: 0.1 }), [true])
    checkBoth(t, `spatial ${dtype}`, [rnd([2, 5, 7, 9], dtype), iv.randint(0, 5, [2, 7, 9], { dtype: 'int32' })], (x, y) =>
      iv.crossEntropy(x, y), [true])
    checkBoth(t, `probabilities ${dtype}`, [rnd([32, 6], dtype), iv.softmax(rnd([32, 6], dtype), 1)], (x, p) =>
      iv.crossEntropy(x, p), [true])
  }
})

t.test('an out-of-range target is refused on both devices', { skip: noGpu }, async (t) => {
  const logits = iv.randn([4, 3])
  const target = iv.tensor([0, 1, 5, 2], { dtype: 'int32' })
  t.throws(() => iv.crossEntropy(logits, target), /target 5 is out of range for 3 classes/)
  t.throws(() => iv.crossEntropy(logits.cuda(), target.cuda()), /target 5 is out of range for 3 classes/)
})

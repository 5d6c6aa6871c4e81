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
    const ce = (opts: iv.CrossEntropyOptions) => (x: iv.Tensor, y: iv.Tensor, w?: iv.Tensor) =>
      iv.crossEntropy(x, y, w ? { ...opts, weight: w } : opts)
    for (const reduction of ['mean', 'sum', 'none'] as const)
      checkBoth(t, `indices ${reduction} ${dtype}`, [logits, target], ce({ reduction }), [true])
    const weights = rnd([10], dtype).abs()
    const smoothed = ce({ ignoreIndex: -1, labelSmoothing: 0.1 })
    checkBoth(t, `ignoreIndex, weights, smoothing ${dtype}`, [logits, target.sub(1), weights], smoothed, [true])
    const spatial = iv.randint(0, 5, [2, 7, 9], { dtype: 'int32' })
    checkBoth(t, `spatial ${dtype}`, [rnd([2, 5, 7, 9], dtype), spatial], ce({}), [true])
    const probabilities = iv.softmax(rnd([32, 6], dtype), 1)
    checkBoth(t, `probabilities ${dtype}`, [rnd([32, 6], dtype), probabilities], ce({}), [true])
  }
})

t.test('an out-of-range target is refused on both devices', { skip: noGpu }, async (t) => {
  const logits = iv.randn([4, 3])
  const target = iv.tensor([0, 1, 5, 2], { dtype: 'int32' })
  t.throws(() => iv.crossEntropy(logits, target), /target 5 is out of range for 3 classes/)
  t.throws(() => iv.crossEntropy(logits.cuda(), target.cuda()), /target 5 is out of range for 3 classes/)
})

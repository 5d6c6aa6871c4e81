// Reductions on CUDA against the CPU backend: every reduction over leading, trailing and
// all dims of contiguous and permuted views (NaN included), with gradients where defined.
import t from 'tap'
import * as iv from '../../src'
import { FLOATS, checkBoth, noGpu, rnd } from './parity'

t.test('reductions over several dims and layouts', { skip: noGpu }, async (t) => {
  const reductions: [string, (x: iv.Tensor) => iv.Tensor, boolean][] = [
    ['sum dim 1', (x) => x.sum(1), true],
    ['mean dims [0, 2]', (x) => x.mean([0, 2]), true],
    ['max dim 2', (x) => iv.max(x, 2), true],
    ['min all', (x) => iv.min(x), false],
    ['argmax dim 0', (x) => iv.argmax(x, 0), false],
    ['argmin dim 2', (x) => iv.argmin(x, 2), false],
    ['logsumexp dim 1', (x) => iv.logsumexp(x, 1), true],
    ['variance dim 2', (x) => iv.variance(x, 2), true],
    ['prod dim 0', (x) => iv.prod(x, 0), true],
  ]
  for (const dtype of FLOATS)
    for (const [name, f, differentiable] of reductions) {
      checkBoth(t, `${name} ${dtype}`, [rnd([13, 257, 9], dtype)], f, [differentiable])
      checkBoth(t, `${name} ${dtype} permuted`, [rnd([9, 13, 257], dtype)], (x) => f(x.permute([1, 2, 0])))
      checkBoth(t, `${name} ${dtype} with NaN`, [rnd([5, 97, 11], dtype, true)], f)
    }
})

t.test('integer sums and a reduction of a million elements', { skip: noGpu }, async (t) => {
  checkBoth(t, 'int32 sum', [iv.randint(-50, 50, [1000, 7], { dtype: 'int32' })], (x) => x.sum(0))
  checkBoth(t, 'float32 sum of 2^20', [rnd([1 << 20], 'float32')], (x) => x.sum())
})

// softmax and logSoftmax on CUDA against the CPU backend, along the last and an inner dim
// (the row and column kernels), with NaN rows and gradients.
import t from 'tap'
import * as iv from '../../src'
import { FLOATS, checkBoth, noGpu, rnd } from './parity'

t.test('softmax and logSoftmax with gradients', { skip: noGpu }, async (t) => {
  for (const dtype of FLOATS)
    for (const [name, f] of [
      ['softmax', iv.softmax],
      ['logSoftmax', iv.logSoftmax],
    ] as const) {
      checkBoth(t, `${name} last dim ${dtype}`, [rnd([37, 1000], dtype)], (x) => f(x, 1), [true])
      checkBoth(t, `${name} inner dim ${dtype}`, [rnd([5, 64, 33], dtype)], (x) => f(x, 1), [true])
      checkBoth(t, `${name} ${dtype} with NaN`, [rnd([7, 300], dtype, true)], (x) => f(x, 1))
    }
})

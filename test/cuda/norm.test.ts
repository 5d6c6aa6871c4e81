// Batch, layer and group norm on CUDA against the CPU backend: training and evaluation
// batch norm (running statistics updated alike), affine and plain variants, with gradients.
import t from 'tap'
import * as iv from '../../src'
import { FLOATS, assertParity, checkBoth, noGpu, rnd } from './parity'

t.test('batch norm: training updates the running stats alike; evaluation', { skip: noGpu }, async (t) => {
  for (const dtype of FLOATS) {
    const x = rnd([8, 12, 9, 7], dtype)
    const w = rnd([12], dtype)
    const b = rnd([12], dtype)
    const stats = () => [iv.zeros([12], { dtype }), iv.ones([12], { dtype })]
    const [rm, rv] = stats()
    const [rmd, rvd] = stats().map((s) => s.cuda())
    checkBoth(
      t,
      `batchNorm training ${dtype}`,
      [x, w, b],
      (xs, ws, bs) => {
        const [m, v] = xs.device === 'cpu' ? [rm, rv] : [rmd, rvd]
        return iv.batchNorm(xs, m, v, ws, bs, { training: true, momentum: 0.1 })
      },
      [true, true, true],
    )
    assertParity(t, `running mean ${dtype}`, rmd, rm)
    assertParity(t, `running var ${dtype}`, rvd, rv)
    checkBoth(t, `batchNorm evaluation ${dtype}`, [x, rm, rv], (xs, m, v) => iv.batchNorm(xs, m, v, null, null), [true])
  }
})

t.test('layer norm and group norm with gradients', { skip: noGpu }, async (t) => {
  for (const dtype of FLOATS) {
    checkBoth(
      t,
      `layerNorm ${dtype}`,
      [rnd([6, 50, 384], dtype), rnd([384], dtype), rnd([384], dtype)],
      (x, w, b) => iv.layerNorm(x, 384, w, b),
      [true, true, true],
    )
    checkBoth(t, `layerNorm plain ${dtype}`, [rnd([4, 9, 10], dtype)], (x) => iv.layerNorm(x, [9, 10]), [true])
    checkBoth(
      t,
      `groupNorm ${dtype}`,
      [rnd([3, 16, 11, 5], dtype), rnd([16], dtype), rnd([16], dtype)],
      (x, w, b) => iv.groupNorm(x, 4, w, b),
      [true, true, true],
    )
  }
})

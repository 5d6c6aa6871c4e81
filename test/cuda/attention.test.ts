// scaledDotProductAttention on CUDA against the CPU backend: the tiled float32 head dims and
// the plain kernels (float64, other dims, E != Ev), causal, boolean and additive masks, with
// gradients (the additive mask's included).
import t from 'tap'
import * as iv from '../../src'
import { FLOATS, checkBoth, noGpu, rnd } from './parity'

t.test('attention forward and backward', { skip: noGpu }, async (t) => {
  for (const dtype of FLOATS)
    for (const [E, Ev] of [
      [32, 32],
      [64, 64],
      [128, 128],
      [40, 24],
    ]) {
      const q = rnd([2, 3, 77, E], dtype)
      const k = rnd([2, 3, 90, E], dtype)
      const v = rnd([2, 3, 90, Ev], dtype)
      const name = `E ${E} Ev ${Ev} ${dtype}`
      const sdpa = (opts: iv.AttentionOptions) => (a: iv.Tensor, b: iv.Tensor, c: iv.Tensor, m?: iv.Tensor) =>
        iv.scaledDotProductAttention(a, b, c, m ? { ...opts, attnMask: m } : opts)
      const keep = iv.rand([1, 3, 77, 90]).gt(0.2)
      checkBoth(t, name, [q, k, v], sdpa({}), [true, true, true])
      checkBoth(t, `${name} causal`, [q, k, v], sdpa({ isCausal: true }), [true, true, true])
      checkBoth(t, `${name} bool mask`, [q, k, v, keep], sdpa({}), [true, true, true])
      checkBoth(t, `${name} additive mask`, [q, k, v, rnd([2, 1, 77, 90], dtype)], sdpa({}), [true, true, true, true])
    }
})

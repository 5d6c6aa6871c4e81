// matmul and linear on CUDA against the CPU backend: batched, broadcast, transposed operands,
// sizes off the tile grid, with gradients; and the bf16 tensor-core GEMM within bf16's error.
import t from 'tap'
import * as iv from '../../src'
import { FLOATS, assertParity, checkBoth, noGpu, rnd } from './parity'

t.test('matmul and linear with gradients', { skip: noGpu }, async (t) => {
  const mm = (a: iv.Tensor, b: iv.Tensor) => a.matmul(b)
  for (const dtype of FLOATS) {
    checkBoth(t, `matmul ${dtype}`, [rnd([3, 67, 45], dtype), rnd([3, 45, 130], dtype)], mm, [true, true])
    checkBoth(t, `matmul broadcast ${dtype}`, [rnd([4, 33, 17], dtype), rnd([17, 65], dtype)], mm, [true, true])
    const transposed = (a: iv.Tensor, b: iv.Tensor) => a.transpose(0, 1).matmul(b.transpose(0, 1))
    checkBoth(t, `matmul transposed operands ${dtype}`, [rnd([70, 129], dtype), rnd([31, 70], dtype)], transposed, [
      true,
      true,
    ])
    const linearInputs = [rnd([8, 19, 96], dtype), rnd([40, 96], dtype), rnd([40], dtype)]
    checkBoth(t, `linear ${dtype}`, linearInputs, (x, w, b) => iv.linear(x, w, b), [true, true, true])
  }
})

t.test('bf16 GEMM within bf16 rounding', { skip: noGpu }, async (t) => {
  const a = rnd([1, 96, 200], 'float32')
  const b = rnd([1, 200, 72], 'float32')
  const out = iv.zeros([1, 96, 72], { device: 'cuda' })
  const ad = a.cuda()
  ad.backend.run('gemmBf16', out, ad, b.cuda(), null)
  const exact = a.to('float64').matmul(b.to('float64'))
  assertParity(t, 'gemmBf16 against the float64 product', out.to('float64'), exact, 1e-2)
})

// Max, average and adaptive average pooling on CUDA against the CPU backend (indices exact,
// NaN windows, ceil mode, padding rules), with gradients.
import t from 'tap'
import * as iv from '../../src'
import { FLOATS, checkBoth, noGpu, rnd } from './parity'

t.test('pooling forward and gradients', { skip: noGpu }, async (t) => {
  const max = (opts: iv.MaxPool2dOptions) => (v: iv.Tensor) => iv.maxPool2d(v, opts)
  const avg = (opts: iv.AvgPool2dOptions) => (v: iv.Tensor) => iv.avgPool2d(v, opts)
  const adaptive = (size: number | [number, number]) => (v: iv.Tensor) => iv.adaptiveAvgPool2d(v, size)
  for (const dtype of FLOATS) {
    const x = rnd([2, 8, 56, 56], dtype)
    const cases: [string, iv.Tensor, (v: iv.Tensor) => iv.Tensor, boolean][] = [
      ['maxPool2d 3x3 s2 p1', x, max({ kernelSize: 3, stride: 2, padding: 1 }), true],
      ['maxPool2d ceil', rnd([2, 4, 14, 15], dtype), max({ kernelSize: 3, stride: 2, ceilMode: true }), true],
      ['maxPool2d dilation 2', rnd([1, 6, 17, 17], dtype), max({ kernelSize: 3, padding: 1, dilation: 2 }), true],
      ['maxPool2d with NaN', rnd([2, 3, 11, 11], dtype, true), max({ kernelSize: 3, stride: 1 }), false],
      ['avgPool2d', rnd([2, 5, 13, 12], dtype), avg({ kernelSize: 3, stride: 2, padding: 1 }), true],
      [
        'avgPool2d ceil, padding not counted',
        rnd([2, 5, 13, 12], dtype),
        avg({ kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
        true,
      ],
      ['adaptiveAvgPool2d 7x5', rnd([2, 6, 23, 17], dtype), adaptive([7, 5]), true],
      ['adaptiveAvgPool2d 1', x, adaptive(1), true],
    ]
    for (const [name, input, f, differentiable] of cases) checkBoth(t, `${name} ${dtype}`, [input], f, [differentiable])
  }
})

// Max, average and adaptive average pooling on CUDA against the CPU backend (indices exact,
// NaN windows, ceil mode, padding rules), with gradients.
import t from 'tap'
import * as iv from '../../src'
import { FLOATS, checkBoth, noGpu, rnd } from './parity'

t.test('pooling forward and gradients', { skip: noGpu }, async (t) => {
  for (const dtype of FLOATS) {
    const x = rnd([2, 8, 56, 56], dtype)
    checkBoth(t, `maxPool2d 3x3 s2 p1 ${dtype}`, [x], (v) => iv.maxPool2d(v, { kernelSize: 3, stride: 2, padding: 1 }), [true])
    checkBoth(t, `maxPool2d ceil ${dtype}`, [rnd([2, 4, 14, 15], dtype)], (v) =>
      iv.maxPool2d(v, { kernelSize: 3, stride: 2, ceilMode: true }), [true])
    checkBoth(t, `maxPool2d dilation 2 ${dtype}`, [rnd([1, 6, 17, 17], dtype)], (v) =>
      iv.maxPool2d(v, { kernelSize: 3, padding: 1, dilation: 2 }), [true])
    checkBoth(t, `maxPool2d with NaN ${dtype}`, [rnd([2, 3, 11, 11], dtype, true)], (v) => iv.maxPool2d(v, { kernelSize: 3, stride: 1 }))
    checkBoth(t, `avgPool2d ${dtype}`, [rnd([2, 5, 13, 12], dtype)], (v) => iv.avgPool2d(v, { kernelSize: 3, stride: 2, padding: 1 }), [
      true,
    ])
    checkBoth(t, `avgPool2d no pad count, ceil ${dtype}`, [rnd([2, 5, 13, 12], dtype)], (v) =>
      iv.avgPool2d(v, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }), [true])
    checkBoth(t, `adaptiveAvgPool2d 7x5 ${dtype}`, [rnd([2, 6, 23, 17], dtype)], (v) => iv.adaptiveAvgPool2d(v, [7, 5]), [true])
    checkBoth(t, `adaptiveAvgPool2d 1 ${dtype}`, [x], (v) => iv.adaptiveAvgPool2d(v, 1), [true])
  }
})

// conv2d on CUDA against the CPU backend: dense, strided, dilated, grouped, asymmetric
// padding and depthwise convolutions with fused activations, through the op and autograd.
import t from 'tap'
import * as iv from '../../src'
import { FLOATS, checkBoth, noGpu, rnd } from './parity'

// [label, x shape, weight shape, options]
const CONVS: [string, number[], number[], iv.Conv2dOptions][] = [
  ['3x3 pad 1 relu', [2, 16, 15, 15], [24, 16, 3, 3], { padding: 1, activation: 'relu' }],
  ['1x1 stride 2', [2, 24, 13, 13], [16, 24, 1, 1], { stride: 2 }],
  ['3x3 stride 2 gelu', [2, 12, 17, 13], [20, 12, 3, 3], { stride: 2, padding: 1, activation: 'gelu' }],
  ['3x3 dilation 2 silu', [1, 8, 16, 16], [8, 8, 3, 3], { padding: 2, dilation: 2, activation: 'silu' }],
  ['groups 4', [2, 16, 11, 11], [32, 4, 3, 3], { padding: 1, groups: 4 }],
  ['7x7 stem', [2, 3, 32, 32], [16, 3, 7, 7], { stride: 2, padding: 3 }],
  ['depthwise 3x3', [2, 24, 14, 14], [24, 1, 3, 3], { padding: 1, groups: 24 }],
  ['depthwise 5x5 multiplier 2', [2, 12, 13, 13], [24, 1, 5, 5], { padding: 2, groups: 12, activation: 'relu' }],
]

t.test('conv2d forward and gradients', { skip: noGpu }, async (t) => {
  for (const dtype of FLOATS)
    for (const [label, xs, ws, opts] of CONVS)
      checkBoth(
        t,
        `${label} ${dtype}`,
        [rnd(xs, dtype), rnd(ws, dtype), rnd([ws[0]], dtype)],
        (x, w, b) => iv.conv2d(x, w, b, opts),
        [true, true, true],
      )
})

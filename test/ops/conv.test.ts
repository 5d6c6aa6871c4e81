import t from 'tap'
import {
  conv2d,
  convTranspose2d,
  getNumThreads,
  gradcheck,
  Generator,
  randn,
  setNumThreads,
  tensor,
  Tensor,
  zeros,
} from '../../src'
import { native } from '../../src/backend/native'
import type { Conv2dOptions, ConvTranspose2dOptions } from '../../src/ops/conv'
import { describe } from '../../src/backend/kernel-calls'
import { checkParity } from './fixture'

const gen = new Generator(7)
const r = (shape: number[], dtype: 'float32' | 'float64' = 'float64') => randn(shape, { dtype, generator: gen })
const rg = (shape: number[]) => r(shape).requiresGrad_()

t.test(
  'conv2d matches PyTorch (fixture: strides, paddings, dilations, groups, depthwise, fused activations, layouts)',
  async (t) => {
    checkParity(t, 'conv', 'conv2d', (c, i) => conv2d(i.x, i.weight, i.bias ?? null, c.options as Conv2dOptions))
  },
)

t.test('convTranspose2d matches PyTorch', async (t) => {
  checkParity(t, 'conv', 'convTranspose2d', (c, i) =>
    convTranspose2d(i.x, i.weight, i.bias ?? null, c.options as ConvTranspose2dOptions),
  )
})

// A direct float64 evaluation of the definition, for shapes too large for the fixture: they
// span several im2col tiles and both work splits (one image per thread, threads per GEMM).
type Pair = number | [number, number]
type Shape = { x: number[]; w: number[]; s: Pair; p: Pair; d?: Pair; groups: number }
const pair = (v: Pair) => (typeof v === 'number' ? [v, v] : v)
function reference(x: Float64Array, xs: number[], w: Float64Array, ws: number[], go: Float64Array, o: Shape) {
  const [N, C, H, W] = xs
  const [K, Cg, kh, kw] = ws
  const [sh, sw] = pair(o.s)
  const [ph, pw] = pair(o.p)
  const [dh, dw] = pair(o.d ?? 1)
  const Ho = Math.floor((H + 2 * ph - dh * (kh - 1) - 1) / sh) + 1
  const Wo = Math.floor((W + 2 * pw - dw * (kw - 1) - 1) / sw) + 1
  const Kg = K / o.groups
  const y = new Float64Array(N * K * Ho * Wo)
  const gx = new Float64Array(x.length)
  const gw = new Float64Array(w.length)
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const g = Math.floor(k / Kg)
      for (let a = 0; a < Ho; a++)
        for (let b = 0; b < Wo; b++) {
          const yi = ((n * K + k) * Ho + a) * Wo + b
          let s = 0
          for (let c = 0; c < Cg; c++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const h = a * sh - ph + i * dh
                const v = b * sw - pw + j * dw
                if (h < 0 || h >= H || v < 0 || v >= W) continue
                const xi = ((n * C + g * Cg + c) * H + h) * W + v
                const wi = ((k * Cg + c) * kh + i) * kw + j
                s += x[xi] * w[wi]
                gx[xi] += go[yi] * w[wi]
                gw[wi] += go[yi] * x[xi]
              }
          y[yi] = s
        }
    }
  return { y, gx, gw, outShape: [N, K, Ho, Wo] }
}

/** Random x, w and output gradient for a shape, and the direct evaluation with that gradient. */
function randomCase(sh: Shape) {
  const x64 = r(sh.x)
  const w64 = r(sh.w)
  const x = x64.data() as Float64Array
  const w = w64.data() as Float64Array
  const go64 = r(reference(x, sh.x, w, sh.w, new Float64Array(0), sh).outShape)
  return { x64, w64, go64, full: reference(x, sh.x, w, sh.w, go64.data() as Float64Array, sh) }
}

/** The direct evaluation with a bias added: its output, and the bias's gradient. */
function withBias(ref: ReturnType<typeof reference>, go: Float64Array, bias: ArrayLike<number>) {
  const [, K, Ho, Wo] = ref.outShape
  const channel = (i: number) => Math.floor(i / (Ho * Wo)) % K
  const gb = new Float64Array(K)
  go.forEach((v, i) => (gb[channel(i)] += v))
  return { y: ref.y.map((v, i) => v + bias[channel(i)]), gb }
}

function maxRel(a: ArrayLike<number>, b: Float64Array): number {
  let d = 0
  let s = 1e-3
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]))
    s = Math.max(s, Math.abs(b[i]))
  }
  return d / s
}

t.test('conv2d over several column tiles and both work splits matches a direct evaluation', async (t) => {
  const shapes: Shape[] = [
    { x: [1, 32, 16, 16], w: [5, 32, 3, 3], s: 1, p: 1, groups: 1 }, // one image: threads inside each GEMM
    { x: [4, 24, 14, 14], w: [6, 12, 3, 3], s: 1, p: 1, groups: 2 }, // images spread over threads
    { x: [5, 16, 13, 17], w: [4, 16, 3, 3], s: 2, p: 1, groups: 1 },
    { x: [4, 8, 18, 18], w: [6, 8, 1, 1], s: 1, p: 0, groups: 1 }, // 1x1: the input is the GEMM operand
    { x: [1, 8, 18, 18], w: [6, 4, 1, 1], s: 1, p: 0, groups: 2 },
    // Stride 2 through im2col (more than 64 positions, too few output channels for the implicit
    // GEMM): row segments of odd length, of 18 values, and cut by padding.
    { x: [2, 8, 20, 18], w: [6, 8, 1, 1], s: 2, p: 0, groups: 1 },
    { x: [1, 8, 40, 36], w: [6, 8, 1, 1], s: 2, p: 0, groups: 1 },
    { x: [2, 4, 30, 37], w: [6, 4, 3, 3], s: 2, p: 1, groups: 1 },
    // Stride-2 input gradients whose column tiles (128 positions, at 1440+ column-matrix rows)
    // end inside an output row: col2im adds a partial first and last row per tile; one image
    // (threads inside the GEMM), and two with dilation and an odd width.
    { x: [1, 256, 24, 24], w: [8, 256, 3, 3], s: 2, p: 1, groups: 1 },
    { x: [2, 160, 26, 25], w: [6, 160, 3, 3], s: 2, p: 2, d: 2, groups: 1 },
    // 14+ output channels and 64+ column rows per group (on AVX-512: the implicit GEMM, conv_implicit.cc): row
    // tiles with an edge, several K blocks, stride phases, dilation, grid columns past Wo.
    { x: [2, 16, 17, 19], w: [20, 16, 3, 3], s: 1, p: 1, groups: 1 },
    { x: [2, 40, 11, 12], w: [30, 40, 3, 3], s: 1, p: 1, groups: 1 },
    { x: [3, 8, 20, 18], w: [16, 8, 3, 3], s: 2, p: 1, groups: 1 },
    { x: [2, 6, 23, 21], w: [15, 6, 5, 3], s: [2, 3], p: [2, 0], groups: 1 },
    { x: [2, 16, 15, 16], w: [28, 8, 3, 3], s: 1, p: 2, d: 2, groups: 2 },
    { x: [1, 8, 19, 13], w: [14, 8, 2, 4], s: 1, p: 0, groups: 1 },
    { x: [1, 16, 12, 12], w: [16, 16, 3, 3], s: 1, p: 3, groups: 1 }, // padding past the kernel's reach
    // Output rows of 16 or a multiple of 32: panels of output positions only, two rows of 16
    // (an odd last row, stride 2, a batch over threads) or 32 of one row.
    { x: [2, 16, 15, 16], w: [16, 16, 3, 3], s: 1, p: 1, groups: 1 },
    { x: [8, 16, 32, 31], w: [16, 16, 3, 3], s: 2, p: 1, groups: 1 },
    { x: [1, 8, 9, 64], w: [14, 8, 3, 3], s: 1, p: 1, groups: 1 },
    // A weight gradient over four blocks of images or more (two 48x48 images each, the last
    // one short), each thread into its own copy of the product, added up at the end.
    { x: [7, 32, 48, 48], w: [16, 32, 3, 3], s: 1, p: 1, groups: 1 },
    // Small planes (64 positions or fewer): blocks of images share one GEMM whose column
    // panels are filled straight from the input, a panel spanning images where P < 32.
    { x: [5, 20, 6, 7], w: [24, 20, 3, 3], s: 1, p: 1, groups: 1 },
    { x: [9, 16, 4, 4], w: [16, 16, 3, 3], s: 1, p: 1, groups: 1 },
    { x: [4, 28, 5, 5], w: [28, 14, 3, 3], s: 1, p: 1, groups: 2 },
    { x: [3, 16, 9, 9], w: [20, 16, 3, 3], s: 2, p: 0, groups: 1 },
    // On AVX-512 small planes take the implicit GEMM with panels gathered over images: two K
    // blocks, row tiles of 14 and 8, several panels per work item, a last panel cut short.
    { x: [7, 40, 5, 5], w: [30, 40, 3, 3], s: 1, p: 1, groups: 1 },
    // With 128+ output channels small planes go channels-last, positions grouped by the taps
    // that read inside the image: channel blocks with a short run (40) and three per tap (264),
    // a partial output panel (130), groups, stride and dilation, and positions that read only
    // padding (padding 3 on a 2x2 image).
    { x: [3, 40, 4, 4], w: [130, 40, 3, 3], s: 1, p: 1, groups: 1 },
    { x: [2, 264, 5, 5], w: [248, 264, 3, 3], s: 1, p: 1, groups: 1 },
    { x: [2, 64, 4, 4], w: [256, 32, 3, 3], s: 1, p: 1, groups: 2 },
    { x: [2, 48, 8, 8], w: [256, 48, 3, 3], s: 2, p: 2, d: 2, groups: 1 },
    { x: [2, 32, 2, 2], w: [128, 32, 3, 3], s: 1, p: 3, groups: 1 },
    // Input gradients that run as a channels-last forward, the weights reordered with the
    // flip applied (264 input channels per group: a partial panel), with groups, dilation and
    // an uneven kernel.
    { x: [2, 264, 4, 4], w: [40, 264, 3, 3], s: 1, p: 1, groups: 1 },
    { x: [2, 528, 4, 4], w: [64, 264, 3, 3], s: 1, p: 1, groups: 2 },
    { x: [2, 264, 5, 5], w: [40, 264, 3, 3], s: 1, p: 2, d: 2, groups: 1 },
    { x: [2, 264, 5, 6], w: [40, 264, 3, 2], s: 1, p: [1, 0], groups: 1 },
    // Few images: classes smaller than a row tile read every tap together (all of a 5x5
    // output at batch 1; the edges and corners of a 7x7 one beside its interior class).
    { x: [1, 32, 5, 5], w: [256, 32, 3, 3], s: 1, p: 1, groups: 1 },
    { x: [1, 32, 7, 7], w: [264, 32, 3, 3], s: 1, p: 1, groups: 1 },
    // Few positions over the batch against 256+ output channels (on AVX-512 the dot-product
    // forward, conv_dot.cc): a last tile of one position and of one output channel, reduction
    // blocks with a short last one, tiles spanning two images, groups with stride and
    // dilation, 1x1 and an uneven kernel.
    { x: [1, 64, 6, 6], w: [256, 64, 3, 3], s: 1, p: 1, groups: 1 },
    { x: [3, 300, 4, 5], w: [260, 300, 3, 3], s: 1, p: 1, groups: 1 },
    { x: [1, 128, 8, 8], w: [512, 64, 3, 3], s: 2, p: 2, d: 2, groups: 2 },
    { x: [2, 520, 3, 3], w: [256, 520, 1, 1], s: 1, p: 0, groups: 1 },
    { x: [1, 40, 6, 5], w: [256, 40, 5, 3], s: 1, p: [2, 0], groups: 1 },
    // Depthwise with strides: the input gradient scatters into column phases of a padded
    // plane, then crops; a channel multiplier, input rows and columns no window covers,
    // stride 3 and dilation.
    { x: [2, 4, 7, 6], w: [8, 1, 3, 3], s: 2, p: 0, groups: 4 },
    { x: [1, 3, 8, 9], w: [3, 1, 3, 2], s: [3, 2], p: [1, 1], d: [1, 2], groups: 3 },
    // Stride 2 without dilation (on AVX-512: gx row by row, its even and odd columns summed
    // apart): even sizes with padding 1, a 5x4 kernel whose taps start inside gy, a 1x1
    // kernel that reaches no odd row or column.
    { x: [2, 3, 8, 10], w: [3, 1, 3, 3], s: 2, p: 1, groups: 3 },
    { x: [1, 2, 9, 7], w: [2, 1, 5, 4], s: 2, p: [2, 3], groups: 2 },
    { x: [2, 2, 6, 6], w: [2, 1, 1, 1], s: 2, p: 0, groups: 2 },
    // Rows wider than one 32-column block (the second half of a block, a second block), with a
    // channel multiplier.
    { x: [2, 3, 9, 37], w: [6, 1, 3, 3], s: 2, p: 1, groups: 3 },
    // Lane masks at both edges of gy: blocks whose lanes reach gy column -1 (no padding) or
    // its last column + 1 (padding 1).
    { x: [1, 2, 6, 70], w: [2, 1, 3, 3], s: 2, p: 0, groups: 2 },
    { x: [1, 2, 5, 64], w: [2, 1, 3, 3], s: 2, p: 1, groups: 2 },
    // Weight gradient with 32+ input and 8+ output channels per group (on AVX-512: images copied
    // channels-last, conv_implicit.cc): several image blocks and K blocks; a channel panel with
    // an edge, groups, strides, dilation.
    { x: [3, 64, 48, 48], w: [10, 64, 3, 3], s: 1, p: 1, groups: 1 },
    { x: [2, 80, 9, 7], w: [20, 40, 3, 3], s: [2, 1], p: [1, 2], d: 2, groups: 2 },
    // Weight gradients of stems (27 or 147 column-matrix rows against 64 output channels per
    // group): each share sums gw^T, which fills the GEMM tiles better, and adds it in
    // transposed; im2col's and (7x7, stride 2) the padded copy's column matrix.
    { x: [3, 3, 20, 18], w: [64, 3, 3, 3], s: 1, p: 1, groups: 1 },
    { x: [2, 6, 12, 13], w: [128, 3, 3, 3], s: 1, p: 1, groups: 2 },
    { x: [2, 3, 30, 28], w: [64, 3, 7, 7], s: 2, p: 3, groups: 1 },
  ]
  for (const sh of shapes) {
    const { x64, w64, go64, full } = randomCase(sh)
    for (const [dtype, tol] of [
      ['float64', 1e-10],
      ['float32', 1e-4],
    ] as const) {
      const x = x64.to(dtype).detach().requiresGrad_()
      const w = w64.to(dtype).detach().requiresGrad_()
      const y = conv2d(x, w, null, { stride: sh.s, padding: sh.p, dilation: sh.d ?? 1, groups: sh.groups })
      const label = `x [${sh.x}] w [${sh.w}] stride ${sh.s} padding ${sh.p} dilation ${sh.d ?? 1} groups ${sh.groups} ${dtype}`
      t.ok(maxRel(y.data(), full.y) < tol, `${label}: output`)
      y.backward(go64.to(dtype))
      t.ok(maxRel((x.grad as Tensor).data(), full.gx) < tol, `${label}: input gradient`)
      t.ok(maxRel((w.grad as Tensor).data(), full.gw) < tol, `${label}: weight gradient`)
    }
  }
})

t.test('conv2d gradcheck (float64) across option families', async (t) => {
  const x = rg([2, 4, 5, 6])
  const cases: [string, number[], Conv2dOptions, boolean][] = [
    ['dense 3x3 pad 1', [3, 4, 3, 3], { padding: 1 }, true],
    ['stride 2, dilation 2, padding [2, 1]', [2, 4, 3, 2], { stride: 2, dilation: 2, padding: [2, 1] }, true],
    ["groups 2, padding 'same' with an even kernel", [4, 2, 2, 3], { groups: 2, padding: 'same' }, true],
    ['1x1', [3, 4, 1, 1], {}, true],
    ['depthwise stride 1', [4, 1, 3, 3], { groups: 4, padding: 1 }, true],
    ['depthwise stride 2 dilation [2, 1]', [4, 1, 3, 3], { groups: 4, stride: 2, dilation: [2, 1], padding: 1 }, false],
    ['depthwise multiplier 2', [8, 1, 3, 3], { groups: 4, padding: [0, 1] }, true],
    ['fused relu', [3, 4, 3, 3], { padding: 1, activation: 'relu' }, true],
    ['fused gelu', [3, 4, 3, 3], { padding: 1, activation: 'gelu' }, true],
    ['fused silu, depthwise', [4, 1, 3, 3], { groups: 4, padding: 1, activation: 'silu' }, true],
  ]
  for (const [name, ws, opts, withBias] of cases) {
    const w = rg(ws)
    const inputs = withBias ? [x, w, rg([ws[0]])] : [x, w]
    t.ok(
      gradcheck((a, b, c) => conv2d(a, b, c ?? null, opts), inputs),
      name,
    )
  }
  t.ok(
    gradcheck((a, b) => conv2d(a, b, null, { padding: 1 }), [rg([3, 4, 4]), rg([2, 3, 3, 3])]),
    'unbatched [C, H, W] input',
  )
})

t.test('convTranspose2d gradcheck (float64)', async (t) => {
  const x = rg([2, 4, 3, 4])
  const cases: [string, number[], ConvTranspose2dOptions][] = [
    ['stride 2, padding 1, outputPadding 1', [4, 3, 3, 3], { stride: 2, padding: 1, outputPadding: 1 }],
    ['groups 2, dilation 2', [4, 2, 3, 2], { groups: 2, dilation: 2, padding: [1, 0] }],
    ['depthwise', [4, 1, 3, 3], { groups: 4, stride: 2 }],
    ['1x1', [4, 3, 1, 1], {}],
  ]
  for (const [name, ws, opts] of cases)
    t.ok(
      gradcheck((a, b, c) => convTranspose2d(a, b, c, opts), [x, rg(ws), rg([ws[1] * (opts.groups ?? 1)])]),
      name,
    )
})

t.test('a fused activation equals the activation applied after the conv', async (t) => {
  const x = r([2, 8, 9, 9], 'float32')
  const w = r([6, 8, 3, 3], 'float32')
  const b = r([6], 'float32')
  const plain = conv2d(x, w, b, { padding: 1 })
  for (const [act, f] of [
    ['relu', (y: Tensor) => y.relu()],
    ['gelu', (y: Tensor) => y.gelu()],
    ['silu', (y: Tensor) => y.silu()],
  ] as const) {
    const fused = conv2d(x, w, b, { padding: 1, activation: act })
    t.ok(maxRel(fused.data(), f(plain).to('float64').data() as Float64Array) < 1e-6, act)
  }
})

// Enough small images (600 channels) that the padded copies come in two blocks of the batch,
// with a bias and each fused activation: float32 (on AVX-512 the small-plane implicit GEMMs:
// panels over images at 20 output channels, channels-last at 128) against the float64
// lowering of the same values.
t.test('small-plane convolutions over several image blocks, with bias and fused activations', async (t) => {
  const x = r([100, 600, 4, 4], 'float32')
  for (const K of [20, 128]) {
    const w = r([K, 600, 3, 3], 'float32').mul(0.05)
    const b = r([K], 'float32')
    for (const activation of [undefined, 'relu', 'gelu', 'silu'] as const) {
      const single = conv2d(x, w, b, { padding: 1, activation })
      const double = conv2d(x.to('float64'), w.to('float64'), b.to('float64'), { padding: 1, activation })
      t.ok(
        maxRel(single.data(), double.data() as Float64Array) < 1e-5,
        `${K} channels, ${activation ?? 'no activation'}`,
      )
    }
  }
})

// A batch of 4+ images per thread (on AVX-512 each thread pads one image and computes all of
// it, conv_implicit.cc): an uneven split of the images, stride phases, two groups, several
// output chunks per image, bias and fused activations, against the float64 lowering.
t.test('implicit-GEMM convolutions over a batch, image by image on each thread', async (t) => {
  const x = r([4 * getNumThreads() + 3, 32, 21, 19], 'float32')
  for (const { w: shape, s, groups } of [
    { w: [160, 32, 3, 3], s: 1, groups: 1 },
    { w: [48, 16, 3, 3], s: 2, groups: 2 },
  ]) {
    const w = r(shape, 'float32').mul(0.1)
    const b = r([shape[0]], 'float32')
    for (const activation of [undefined, 'relu', 'silu'] as const) {
      const single = conv2d(x, w, b, { stride: s, padding: 1, groups, activation })
      const double = conv2d(x.to('float64'), w.to('float64'), b.to('float64'), {
        stride: s,
        padding: 1,
        groups,
        activation,
      })
      t.ok(
        maxRel(single.data(), double.data() as Float64Array) < 1e-5,
        `w [${shape}] stride ${s} groups ${groups} ${activation ?? 'no activation'}`,
      )
    }
  }
})

// On AVX-512 a weight gradient with a small product (at most 1 MB) over at least two blocks of
// images per thread runs each thread's blocks into its own copy of the product: at 1 thread
// the column split, at 2 and 3 the copies, whatever this machine's default.
t.test('channels-last weight gradients agree with float64 at 1, 2 and 3 threads', async (t) => {
  const threads = getNumThreads()
  t.teardown(() => setNumThreads(threads))
  for (const { x: xs, w: ws, s } of [
    { x: [32, 32, 24, 24], w: [16, 32, 3, 3], s: 1 },
    { x: [30, 32, 33, 31], w: [24, 32, 3, 3], s: 2 },
  ]) {
    const x = r(xs, 'float32'),
      w = r(ws, 'float32')
    const gy = r(conv2d(x, w, null, { stride: s, padding: 1 }).shape, 'float32')
    const weightGrad = (xi: Tensor, wi: Tensor, gyi: Tensor): Tensor => {
      const wg = wi.clone().requiresGrad_()
      conv2d(xi, wg, null, { stride: s, padding: 1 }).mul(gyi).sum().backward()
      return wg.grad!
    }
    const want = weightGrad(x.to('float64'), w.to('float64'), gy.to('float64')).data() as Float64Array
    for (const n of [1, 2, 3]) {
      setNumThreads(n)
      const got = weightGrad(x, w, gy).data()
      t.ok(maxRel(got, want) < 1e-5, `x [${xs}] w [${ws}] stride ${s} at ${n} threads`)
    }
  }
})

// The dot-product forward's epilogue (on AVX-512: 36 positions, 256 output channels): bias and
// each fused activation, and through gelu and silu the gradient, which reads the stored
// pre-activation, against the float64 lowering of the same values.
t.test('few-position convolutions with bias, fused activations and their gradients', async (t) => {
  const x64 = r([1, 64, 6, 6])
  const w64 = r([256, 64, 3, 3]).mul(0.05)
  const b64 = r([256])
  const go64 = r([1, 256, 6, 6])
  for (const activation of [undefined, 'relu', 'gelu', 'silu'] as const) {
    const run = (dtype: 'float32' | 'float64') => {
      const x = x64.to(dtype).detach().requiresGrad_()
      const y = conv2d(x, w64.to(dtype), b64.to(dtype), { padding: 1, activation })
      y.backward(go64.to(dtype))
      return { y: y.to('float64').data() as Float64Array, gx: (x.grad as Tensor).to('float64').data() as Float64Array }
    }
    const single = run('float32')
    const double = run('float64')
    const label = activation ?? 'no activation'
    t.ok(maxRel(single.y, double.y) < 1e-5, `${label}: output`)
    t.ok(maxRel(single.gx, double.gx) < 1e-5, `${label}: input gradient`)
  }
})

t.test('conv2d and convTranspose2d reject bad inputs with errors naming the op and shapes', async (t) => {
  const x = r([1, 4, 5, 5], 'float32')
  const w = r([6, 2, 3, 3], 'float32')
  t.throws(
    () => conv2d(r([1, 3, 5, 5], 'float32'), w, null, { groups: 2 }),
    /conv2d: .*input channels 3.*\[1, 3, 5, 5\]/,
  )
  t.throws(
    () => conv2d(x, w),
    /conv2d: input \[1, 4, 5, 5\] has 4 channels but weight \[6, 2, 3, 3\] with groups 1 expects 2/,
  )
  t.throws(
    () => conv2d(x, r([6, 1, 3, 3], 'float32'), null, { groups: 3 }),
    /conv2d: groups 3 must divide the input channels 4/,
  )
  t.throws(
    () => conv2d(r([1, 2, 2, 2], 'float32'), r([1, 2, 5, 5], 'float32'), null, { padding: 1 }),
    /conv2d: kernel 5x5 .*larger than the padded input 4x4/,
  )
  t.throws(
    () => conv2d(r([4, 5, 5], 'float32').sum(0), w),
    /conv2d: expected a 3-d \[C, H, W\] or 4-d \[N, C, H, W\] input, got \[5, 5\]/,
  )
  t.throws(() => conv2d(x, r([6, 2, 3], 'float32')), /conv2d: expected a 4-d weight, got \[6, 2, 3\]/)
  t.throws(
    () => conv2d(x.to('int32'), w.to('int32'), null, { groups: 2 }),
    /conv2d: input, weight and bias must share a float dtype, got int32, int32/,
  )
  t.throws(() => conv2d(x, w.to('float64'), null, { groups: 2 }), /conv2d: .*float32, float64/)
  t.throws(
    () => conv2d(x, w, r([5], 'float32'), { groups: 2 }),
    /conv2d: bias \[5\] does not fit weight \[6, 2, 3, 3\]/,
  )
  t.throws(() => conv2d(x, w, null, { groups: 2, stride: 2, padding: 'same' }), /conv2d: padding 'same' needs stride 1/)
  t.throws(() => conv2d(x, w, null, { groups: 2, stride: 0 }), /conv2d: stride must be an integer >= 1/)
  t.throws(() => conv2d(x, w, null, { groups: 1.5 }), /conv2d: groups must be a positive integer/)
  t.throws(() => conv2d(x, w, null, { groups: 2, activation: 'tanh' as 'relu' }), /conv2d: activation must be/)
  const gone = r([1, 4, 5, 5], 'float32')
  gone.dispose()
  t.throws(() => conv2d(gone, w, null, { groups: 2 }), /conv2d: the tensor of shape \[1, 4, 5, 5\] was disposed/)
  t.throws(() => conv2d('x' as unknown as Tensor, w), /conv2d: argument 'input' must be a Tensor/)
  const wt = r([4, 3, 3, 3], 'float32')
  t.throws(
    () => convTranspose2d(x, wt, null, { stride: 2, outputPadding: 2 }),
    /convTranspose2d: outputPadding \[2, 2\] must be smaller than either stride/,
  )
  t.throws(
    () => convTranspose2d(r([1, 3, 5, 5], 'float32'), wt),
    /convTranspose2d: input \[1, 3, 5, 5\] has 3 channels but weight \[4, 3, 3, 3\] expects 4/,
  )
  t.throws(
    () => convTranspose2d(r([1, 4, 1, 1], 'float32'), wt, null, { padding: 2 }),
    /convTranspose2d: output size -1x-1 is too small/,
  )
})

t.test('the native conv entry points throw on malformed calls instead of crashing', async (t) => {
  const f = (a: Tensor) => describe(a)
  const x = zeros([2, 4, 6, 6])
  const w = zeros([3, 4, 3, 3])
  const y = zeros([2, 3, 6, 6])
  const p = [1, 1, 1, 1, 1, 1, 1, 1, 1]
  const call =
    (name: string, ...args: unknown[]) =>
    () =>
      (native[name] as (...a: unknown[]) => unknown)(...args)
  t.doesNotThrow(call('conv2d', f(y), f(x), f(w), null, p, 'none', null), 'a well-formed call works')
  t.throws(call('conv2d', f(y), f(x), f(w), null, p, 'none'), /conv2d: expected 7 arguments, got 6/)
  t.throws(call('conv2d', f(y), f(x), f(w), null, [1, 1, 1], 'none', null), /conv2d: params must be/)
  t.throws(
    call('conv2d', f(y), f(x), f(w), null, [0, 1, 1, 1, 1, 1, 1, 1, 1], 'none', null),
    /conv2d: strides, dilations and groups must be positive/,
  )
  t.throws(
    call('conv2d', f(zeros([2, 3, 5, 6])), f(x), f(w), null, p, 'none', null),
    /conv2d: out has shape \[2, 3, 5, 6\] but x \[2, 4, 6, 6\] and weight \[3, 4, 3, 3\] give \[2, 3, 6, 6\]/,
  )
  t.throws(
    call('conv2d', f(y), f(x), f(w), f(zeros([4])), p, 'none', null),
    /conv2d: bias must be a contiguous 1-d float32 tensor of 3 elements/,
  )
  t.throws(call('conv2d', f(y), f(x), f(w), null, p, 'tanh', null), /conv2d: unknown activation 'tanh'/)
  t.throws(
    call('conv2d', f(y), f(x), f(w), null, p, 'gelu', f(zeros([1]))),
    /conv2d: pre must be a contiguous tensor shaped like out/,
  )
  t.throws(
    call('conv2d', f(y), f(x), f(w), null, [1, 1, 1, 1, 1, 1, 1, 1, 3], 'none', null),
    /conv2d: groups 3 must divide input channels 4/,
  )
  t.throws(
    call('conv2d', f(y), f(x.permute(0, 2, 3, 1)), f(w), null, p, 'none', null),
    /conv2d: .*must be contiguous|conv2d: .*channels/,
  )
  t.throws(
    call('conv2d', f(y), f(x.to('float64')), f(w), null, p, 'none', null),
    /conv2d: tensors must share a float dtype, got x float64, weight float32, out float32/,
  )
  const bad = f(x)
  bad[2] = [2, 4, 60, 6] // a view past the end of its storage
  t.throws(call('conv2d', f(y), bad, f(w), null, p, 'none', null), /conv2d: argument 'x'.*exceeds its storage/)
  t.throws(
    call('conv2dBackwardInput', f(x), f(y), f(zeros([3, 2, 3, 3])), p),
    /conv2dBackwardInput: gradInput \[2, 4, 6, 6\] has 4 channels but weight \[3, 2, 3, 3\] with groups 1 expects 2/,
  )
  t.throws(
    call('conv2dBackwardInput', f(x), f(y), f(w), [1, 1, 0, 0, 0, 0, 1, 1, 1]),
    /conv2dBackwardInput: gradOutput has shape \[2, 3, 6, 6\] but .* give \[2, 3, 4, 4\]/,
  )
  t.throws(call('conv2dBackwardWeight', f(w), f(zeros([2])), f(y), f(x), p), /conv2dBackwardWeight: gradBias must be/)
  t.throws(
    call('conv2dBackwardWeight', f(w), null, f(y), f(zeros([2, 4, 1, 1])), [1, 1, 0, 0, 0, 0, 1, 1, 1]),
    /conv2dBackwardWeight: kernel 3x3 .*larger than the padded input 1x1/,
  )
  t.throws(
    call('conv2dBackwardWeight', f(w), null, f(y), 'x', p),
    /conv2dBackwardWeight: argument 'x' must be a tensor descriptor/,
  )
})

t.test('depthwise kernels handle taps beyond the small-kernel fast path and negative padding spans', async (t) => {
  // 9x9 depthwise (81 taps) exercises the heap-held flipped kernel of the stride-1 input
  // gradient; padding 3 on a 3x3 kernel (beyond its span) a negative shift of the gradient.
  const x = rg([1, 2, 4, 5])
  t.ok(
    gradcheck((a, b) => conv2d(a, b, null, { groups: 2, padding: [5, 4] }), [x, rg([2, 1, 9, 9])]),
    '9x9 depthwise, padding [5, 4]',
  )
  t.ok(
    gradcheck((a, b) => conv2d(a, b, null, { groups: 2, padding: 3 }), [x, rg([2, 1, 3, 3])]),
    '3x3 depthwise, padding 3',
  )
})

t.test('depthwise convolutions over small planes match a direct evaluation, gradients and bias included', async (t) => {
  // Up to 256 outputs and 1024 inputs per plane (1024 and 4096 for a strided weight gradient),
  // one output channel per input channel, float32 on AVX-512, every pass: 16 channels at a
  // time, channels-last (conv_depthwise_avx512.cc). Several channel blocks with a partial last
  // one, 1x1 planes (the centre tap only; at stride 2 the last kernel row starts past the
  // plane), padding past the kernel's reach (taps that meet no input), strides, dilation and an
  // uneven kernel, the size limits; then planes past them and a channel multiplier (the
  // plane-by-plane route).
  const shapes: Shape[] = [
    { x: [3, 40, 5, 6], w: [40, 1, 3, 3], s: 1, p: 1, groups: 40 },
    { x: [4, 20, 1, 1], w: [20, 1, 3, 3], s: 1, p: 1, groups: 20 },
    { x: [3, 20, 1, 1], w: [20, 1, 3, 3], s: 2, p: 1, groups: 20 },
    { x: [2, 17, 2, 2], w: [17, 1, 3, 3], s: 1, p: 3, groups: 17 },
    { x: [2, 16, 11, 13], w: [16, 1, 5, 3], s: [2, 1], p: [2, 1], d: [1, 2], groups: 16 },
    { x: [2, 24, 32, 32], w: [24, 1, 3, 3], s: 2, p: 1, groups: 24 },
    { x: [2, 20, 40, 36], w: [20, 1, 3, 3], s: 2, p: 1, groups: 20 },
    { x: [1, 16, 64, 64], w: [16, 1, 3, 3], s: 2, p: 1, groups: 16 },
    { x: [1, 16, 65, 64], w: [16, 1, 3, 3], s: 2, p: 1, groups: 16 },
    { x: [2, 18, 16, 16], w: [18, 1, 3, 3], s: 1, p: 1, groups: 18 },
    { x: [2, 18, 17, 16], w: [18, 1, 3, 3], s: 1, p: 1, groups: 18 },
    { x: [2, 6, 10, 9], w: [12, 1, 3, 3], s: 1, p: 1, groups: 6 },
  ]
  for (const sh of shapes) {
    const { x64, w64, go64, full: ref } = randomCase(sh)
    const label = `x [${sh.x}] w [${sh.w}] stride ${sh.s} padding ${sh.p} dilation ${sh.d ?? 1}`
    const x = x64.to('float32').requiresGrad_()
    const w = w64.to('float32').requiresGrad_()
    const b = r([ref.outShape[1]], 'float32').requiresGrad_()
    const y = conv2d(x, w, b, { stride: sh.s, padding: sh.p, dilation: sh.d ?? 1, groups: sh.groups })
    const { y: yRef, gb } = withBias(ref, go64.data() as Float64Array, b.data())
    t.ok(maxRel(y.data(), yRef) < 1e-4, `${label}: output`)
    y.backward(go64.to('float32'))
    t.ok(maxRel((x.grad as Tensor).data(), ref.gx) < 1e-4, `${label}: input gradient`)
    t.ok(maxRel((w.grad as Tensor).data(), ref.gw) < 1e-4, `${label}: weight gradient`)
    t.ok(maxRel((b.grad as Tensor).data(), gb) < 1e-4, `${label}: bias gradient`)
  }
})

t.test('1x1 convolutions over small and one-pixel planes match a direct evaluation, bias included', async (t) => {
  // One-pixel planes (squeeze-excitation's convolutions) run as GEMMs on [N, C] rows; small
  // planes as one GEMM over a block of images, its panels filled from x as it lies, runs going
  // on past row ends where the kernel is one column wide (the 3x1 case).
  const shapes: Shape[] = [
    { x: [5, 12, 1, 1], w: [7, 12, 1, 1], s: 1, p: 0, groups: 1 },
    { x: [4, 12, 1, 1], w: [9, 4, 1, 1], s: 1, p: 0, groups: 3 },
    { x: [3, 8, 1, 1], w: [6, 8, 1, 1], s: 2, p: 0, groups: 1 },
    { x: [2, 8, 1, 1], w: [6, 8, 1, 1], s: 1, p: 1, groups: 1 }, // padded: not one pixel out
    { x: [5, 20, 8, 8], w: [24, 20, 1, 1], s: 1, p: 0, groups: 1 },
    { x: [9, 16, 4, 4], w: [12, 16, 1, 1], s: 1, p: 0, groups: 1 },
    { x: [4, 16, 4, 4], w: [8, 8, 1, 1], s: 1, p: 0, groups: 2 },
    { x: [7, 12, 2, 2], w: [10, 12, 1, 1], s: 1, p: 0, groups: 1 },
    { x: [3, 10, 5, 3], w: [6, 10, 1, 1], s: 1, p: 0, groups: 1 },
    { x: [3, 8, 6, 5], w: [10, 8, 3, 1], s: 1, p: 0, groups: 1 },
    // On AVX-512, 14+ output channels per group over planes of 16, 32 or 64 positions: the
    // kernel reads x in place (and gy, for the input gradient, with the kernel transposed),
    // a panel's halves from two images at 16 positions, a last panel of 16 columns.
    { x: [3, 20, 4, 4], w: [16, 20, 1, 1], s: 1, p: 0, groups: 1 },
    { x: [3, 16, 4, 8], w: [20, 16, 1, 1], s: 1, p: 0, groups: 1 },
    { x: [4, 32, 4, 4], w: [28, 16, 1, 1], s: 1, p: 0, groups: 2 },
  ]
  for (const sh of shapes) {
    const { x64, w64, go64, full: ref } = randomCase(sh)
    const b64 = r([ref.outShape[1]])
    const { y: yRef, gb } = withBias(ref, go64.data() as Float64Array, b64.data())
    for (const [dtype, tol] of [
      ['float64', 1e-10],
      ['float32', 1e-4],
    ] as const) {
      const label = `x [${sh.x}] w [${sh.w}] stride ${sh.s} padding ${sh.p} groups ${sh.groups} ${dtype}`
      const x = x64.to(dtype).detach().requiresGrad_()
      const w = w64.to(dtype).detach().requiresGrad_()
      const b = b64.to(dtype).detach().requiresGrad_()
      const y = conv2d(x, w, b, { stride: sh.s, padding: sh.p, groups: sh.groups })
      t.same(y.shape, ref.outShape, `${label}: shape`)
      t.ok(maxRel(y.data(), yRef) < tol, `${label}: output`)
      y.backward(go64.to(dtype))
      t.ok(maxRel((x.grad as Tensor).data(), ref.gx) < tol, `${label}: input gradient`)
      t.ok(maxRel((w.grad as Tensor).data(), ref.gw) < tol, `${label}: weight gradient`)
      t.ok(maxRel((b.grad as Tensor).data(), gb) < tol, `${label}: bias gradient`)
    }
  }
  // 'same' padding with an even kernel pads only the bottom and right: stride 1 without
  // top or left padding, yet x is not its own padded layout. float32 (panels filled from a
  // padded copy) against float64 (im2col).
  const x64 = r([3, 6, 5, 6])
  const w64 = r([7, 6, 2, 2])
  const go = r([3, 7, 5, 6])
  const results = (['float64', 'float32'] as const).map((dtype) => {
    const x = x64.to(dtype).detach().requiresGrad_()
    const w = w64.to(dtype).detach().requiresGrad_()
    const y = conv2d(x, w, null, { padding: 'same' })
    y.backward(go.to(dtype))
    return [y, x.grad as Tensor, w.grad as Tensor].map((v) => v.data())
  })
  for (const [i, what] of ['output', 'input gradient', 'weight gradient'].entries())
    t.ok(maxRel(results[1][i], results[0][i] as Float64Array) < 1e-4, `'same' padding, 2x2 kernel: ${what}`)
  // The fused activations on these routes, against finite differences.
  const one = rg([3, 6, 1, 1])
  t.ok(gradcheck((x, w, b) => conv2d(x, w, b, { groups: 2, activation: 'gelu' }), [one, rg([4, 3, 1, 1]), rg([4])]))
  t.ok(gradcheck((x, w, b) => conv2d(x, w, b, { activation: 'silu' }), [rg([2, 5, 3, 3]), rg([4, 5, 1, 1]), rg([4])]))
  t.ok(gradcheck((x, w, b) => conv2d(x, w, b, { activation: 'relu' }), [one, rg([5, 6, 1, 1]), rg([5])]))
})

t.test('conv2d leaves its inputs untouched and works on tensors made with tensor()', async (t) => {
  const x = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], { shape: [1, 1, 3, 3] })
  const w = tensor([1, 0, 0, -1], { shape: [1, 1, 2, 2] })
  t.same(Array.from(conv2d(x, w).data()), [1 - 5, 2 - 6, 4 - 8, 5 - 9])
  t.same(Array.from(x.data()), [1, 2, 3, 4, 5, 6, 7, 8, 9])
})

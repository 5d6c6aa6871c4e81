import t from 'tap'
import { gradcheck, Generator, interpolate, pad, randn, tensor, Tensor, zeros } from '../../src'
import { native } from '../../src/backend/native'
import type { InterpolateOptions, PadMode } from '../../src/ops/resample'
import { describe } from '../../src/backend/kernel-calls'
import { checkParity } from './fixture'

const gen = new Generator(13)
const rg = (shape: number[]) => randn(shape, { dtype: 'float64', generator: gen }).requiresGrad_()

t.test('pad and interpolate match PyTorch (fixture)', async (t) => {
  checkParity(t, 'resample', 'pad', (c, i) =>
    pad(i.x, c.options.pads as number[], {
      mode: c.options.mode as PadMode,
      value: c.options.value as number | undefined,
    }),
  )
  checkParity(t, 'resample', 'interpolate', (c, i) => interpolate(i.x, c.options as InterpolateOptions))
})

t.test('pad and interpolate gradcheck (float64)', async (t) => {
  const x = rg([2, 2, 4, 5])
  const pads: [number[], PadMode][] = [
    [[1, 2, 2, 0], 'constant'],
    [[-1, 1, 0, 2], 'constant'],
    [[2, 1, 3, 1], 'reflect'],
    [[3, 1, 0, 2], 'replicate'],
    [[1, 1, 1, 0, 0, 1], 'constant'],
  ]
  for (const [p, mode] of pads)
    t.ok(
      gradcheck((a) => pad(a, p, { mode, value: mode === 'constant' ? 0.25 : undefined }), [x]),
      `pad ${mode} [${p}]`,
    )
  const interp: InterpolateOptions[] = [
    { size: [7, 3], mode: 'nearest' },
    { scaleFactor: 2, mode: 'nearest' },
    { size: [6, 9], mode: 'bilinear' },
    { size: [3, 7], mode: 'bilinear', alignCorners: true },
    { scaleFactor: [1.6, 0.5], mode: 'bilinear' },
  ]
  for (const o of interp)
    t.ok(
      gradcheck((a) => interpolate(a, o), [x]),
      `interpolate ${JSON.stringify(o)}`,
    )
})

t.test('pad reads its pads last dim first, like F.pad', async (t) => {
  const x = tensor([1, 2, 3, 4], { shape: [1, 2, 2] })
  t.same(pad(x, [1, 0]).toArray(), [
    [
      [0, 1, 2],
      [0, 3, 4],
    ],
  ])
  t.same(pad(x, [0, 0, 0, 1], { value: 9 }).toArray(), [
    [
      [1, 2],
      [3, 4],
      [9, 9],
    ],
  ])
  t.same(pad(x, [1, 1], { mode: 'reflect' }).toArray(), [
    [
      [2, 1, 2, 1],
      [4, 3, 4, 3],
    ],
  ])
})

t.test('pad and interpolate reject bad inputs with errors naming the op and shapes', async (t) => {
  const x = randn([1, 2, 3, 4])
  t.throws(() => pad(x, [1, 2, 3]), /pad: pads must be an even-length list/)
  t.throws(
    () => pad(x, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
    /pad: pads must be .*at most 2 per dim of input \[1, 2, 3, 4\]/,
  )
  t.throws(
    () => pad(x, [4, 0], { mode: 'reflect' }),
    /pad: reflect padding \(4, 0\) of dim 3 must be non-negative and less than its size 4/,
  )
  t.throws(() => pad(x, [-5, 0]), /pad: padding \(-5, 0\) gives dim 3 of input \[1, 2, 3, 4\] size -1/)
  t.throws(() => pad(x, [1, 1], { mode: 'circular' as PadMode }), /pad: mode must be/)
  t.throws(() => pad(x, [1, 1], { mode: 'reflect', value: 2 }), /pad: value applies only to mode 'constant'/)
  t.throws(() => pad(x.to('int32'), [1, 1]), /pad: expected a floating-point input, got int32/)
  t.throws(
    () => interpolate(randn([2, 3, 4]), { size: 5 }),
    /interpolate: mode 'nearest' expects a 4-d \[N, C, H, W\] input, got \[2, 3, 4\]/,
  )
  t.throws(() => interpolate(x, { size: 5, scaleFactor: 2 }), /interpolate: give exactly one of size and scaleFactor/)
  t.throws(
    () => interpolate(x, { size: 5, alignCorners: true }),
    /interpolate: alignCorners can only be set with mode 'bilinear'/,
  )
  t.throws(
    () => interpolate(x, { scaleFactor: 0.1, mode: 'bilinear' }),
    /interpolate: scaleFactor 0.1 gives an empty output for input \[1, 2, 3, 4\]/,
  )
  t.throws(
    () => interpolate(x, { size: [2, 2], mode: 'bicubic' as 'bilinear' }),
    /interpolate: mode must be 'nearest' or 'bilinear'/,
  )
  const gone = randn([1, 1, 2, 2])
  gone.dispose()
  t.throws(() => interpolate(gone, { size: 4 }), /interpolate: the tensor of shape \[1, 1, 2, 2\] was disposed/)
})

t.test('the native pad and interpolate entry points throw on malformed calls instead of crashing', async (t) => {
  const f = (a: Tensor) => describe(a)
  const x = zeros([1, 2, 3, 4])
  const call =
    (name: string, ...args: unknown[]) =>
    () =>
      (native[name] as (...a: unknown[]) => unknown)(...args)
  t.doesNotThrow(call('pad', f(zeros([1, 2, 3, 6])), f(x), [1, 1], 'reflect', 0), 'a well-formed call works')
  t.throws(
    call('pad', f(zeros([1, 2, 3, 7])), f(x), [1, 1], 'reflect', 0),
    /pad: out \[1, 2, 3, 7\] should have size 6 in dim 3/,
  )
  t.throws(
    call('pad', f(zeros([1, 2, 3, 12])), f(x), [4, 4], 'reflect', 0),
    /pad: reflect padding \(4, 4\) must be non-negative and less than dim 3/,
  )
  t.throws(
    call('pad', f(zeros([1, 2, 3, 6])), f(x), [1, 1, 1], 'constant', 0),
    /pad: pads must hold a \[before, after\] pair/,
  )
  t.throws(call('pad', f(zeros([1, 2, 3, 6])), f(x), [1, 1], 'wrap', 0), /pad: unknown mode 'wrap'/)
  t.throws(
    call('padBackward', f(x), f(zeros([1, 2, 3, 6])), [1, 1], 'constant', 0),
    /padBackward: expected 4 arguments, got 5/,
  )
  t.throws(
    call('padBackward', f(x), f(zeros([1, 2, 5, 6]).slice(2, 0, 5, 2)), [1, 1], 'constant'),
    /padBackward: gradInput and gradOutput must be contiguous/,
  )
  t.throws(
    call('interpolate', f(zeros([1, 3, 6, 8])), f(x), 'nearest', false, 0, 0),
    /interpolate: x \[1, 2, 3, 4\] and out \[1, 3, 6, 8\] differ in batch or channels/,
  )
  t.throws(call('interpolate', f(zeros([1, 2, 6, 8])), f(x), 'area', false, 0, 0), /interpolate: unknown mode 'area'/)
  t.throws(
    call('interpolateBackward', f(x), f(zeros([1, 2, 0, 8])), 'bilinear', false, 0, 0),
    /interpolateBackward: spatial sizes must be positive/,
  )
  t.throws(
    call('interpolate', f(zeros([1, 2, 6, 8], { dtype: 'float64' })), f(x), 'nearest', false, 0, 0),
    /interpolate: x and out must share a float dtype, got float32 and float64/,
  )
})

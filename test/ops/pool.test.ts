import t from 'tap'
import { adaptiveAvgPool2d, avgPool2d, gradcheck, Generator, maxPool2d, randn, tensor, Tensor, zeros } from '../../src'
import { native } from '../../src/backend/native'
import type { AvgPool2dOptions, MaxPool2dOptions } from '../../src/ops/pool'
import { describe } from '../../src/backend/kernel-calls'
import { checkParity } from './fixture'

const gen = new Generator(11)
const rg = (shape: number[]) => randn(shape, { dtype: 'float64', generator: gen }).requiresGrad_()

t.test('pooling matches PyTorch (fixture)', async (t) => {
  checkParity(t, 'pool', 'maxPool2d', (c, i) => maxPool2d(i.x, c.options as unknown as MaxPool2dOptions))
  checkParity(t, 'pool', 'avgPool2d', (c, i) => avgPool2d(i.x, c.options as unknown as AvgPool2dOptions))
  checkParity(t, 'pool', 'adaptiveAvgPool2d', (c, i) => adaptiveAvgPool2d(i.x, c.options.outputSize as number))
})

t.test('pooling gradcheck (float64)', async (t) => {
  const x = rg([2, 2, 7, 6])
  const max: MaxPool2dOptions[] = [
    { kernelSize: 3, stride: 2, padding: 1 },
    { kernelSize: 2, ceilMode: true },
    { kernelSize: [3, 2], stride: [1, 2], padding: [1, 0], dilation: [2, 1] },
  ]
  for (const o of max)
    t.ok(
      gradcheck((a) => maxPool2d(a, o), [x]),
      `maxPool2d ${JSON.stringify(o)}`,
    )
  const avg: AvgPool2dOptions[] = [
    { kernelSize: 3, stride: 2, padding: 1 },
    { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false, ceilMode: true },
    { kernelSize: [2, 3], stride: [2, 1], divisorOverride: 5 },
  ]
  for (const o of avg)
    t.ok(
      gradcheck((a) => avgPool2d(a, o), [x]),
      `avgPool2d ${JSON.stringify(o)}`,
    )
  for (const s of [[3, 4], 1, [9, 5], [null, 2]] as const)
    t.ok(
      gradcheck((a) => adaptiveAvgPool2d(a, s as [number, number]), [x]),
      `adaptiveAvgPool2d ${JSON.stringify(s)}`,
    )
  t.ok(
    gradcheck((a) => maxPool2d(a, { kernelSize: 2 }), [rg([3, 4, 4])]),
    'unbatched [C, H, W] input',
  )
})

t.test('maxPool2d: NaN wins and ties route the gradient to the first maximum, as in PyTorch', async (t) => {
  const x = tensor([1, NaN, 3, 2, 5, 5, 5, 1], { shape: [1, 2, 2, 2], dtype: 'float64' }).requiresGrad_()
  const y = maxPool2d(x, { kernelSize: 2 })
  const v = y.data()
  t.ok(Number.isNaN(v[0]), 'NaN propagates')
  t.equal(v[1], 5)
  y.sum().backward()
  t.same(Array.from((x.grad as Tensor).data()), [0, 1, 0, 0, 1, 0, 0, 0])
})

// float32 takes vector column maxima (then each window across them); float64 the scalar
// loop. On values with many ties (few distinct integers, zeros as after a ReLU) and a few NaNs,
// every window option must pick the same maxima and the same indices (the gradient lands on
// the same elements).
t.test('float32 maxPool2d picks the same maxima and indices as the float64 loop', async (t) => {
  const g = new Generator(5)
  const x64 = randn([3, 5, 13, 37], { dtype: 'float64', generator: g }).mul(1.5).round().relu()
  const withNaN = x64.clone()
  const data = withNaN.data() as Float64Array
  for (const i of [17, 500, 2100, 5000]) data[i] = NaN
  const nanInput = tensor(Array.from(data), { dtype: 'float64' }).reshape(x64.shape)
  const options: MaxPool2dOptions[] = [
    { kernelSize: 3, stride: 2, padding: 1 },
    { kernelSize: 2 },
    { kernelSize: [3, 5], stride: [1, 2], padding: [1, 2] },
    { kernelSize: 3, stride: 2, dilation: 2, padding: 1 },
    { kernelSize: 3, stride: 2, ceilMode: true },
  ]
  for (const input of [x64, nanInput])
    for (const o of options) {
      const grads = (['float32', 'float64'] as const).map((dtype) => {
        const x = input.to(dtype).detach().requiresGrad_()
        const y = maxPool2d(x, o)
        y.backward(
          tensor(
            Array.from({ length: y.numel }, (_, i) => (i % 7) + 1),
            { dtype },
          ).reshape(y.shape),
        )
        return [Array.from(y.data()), Array.from(x.grad!.data())]
      })
      const label = `${JSON.stringify(o)}${input === nanInput ? ' with NaNs' : ''}`
      t.same(grads[0][0], grads[1][0], `${label}: maxima`)
      t.same(grads[0][1], grads[1][1], `${label}: gradients at the chosen indices`)
    }
})

t.test('pooling rejects bad inputs with errors naming the op and shapes', async (t) => {
  const x = randn([1, 2, 5, 5])
  t.throws(
    () => maxPool2d(x, { kernelSize: 3, padding: 2 }),
    /maxPool2d: padding \[2,2\] must be at most half the kernel size \[3,3\]/,
  )
  t.throws(() => maxPool2d(x, { kernelSize: 6 }), /maxPool2d: input \[1, 2, 5, 5\] is too small for kernel \[6,6\]/)
  t.throws(
    () => maxPool2d(randn([5, 5]), { kernelSize: 2 }),
    /maxPool2d: expected a 3-d \[C, H, W\] or 4-d \[N, C, H, W\] input, got \[5, 5\]/,
  )
  t.throws(() => maxPool2d(x.to('int32'), { kernelSize: 2 }), /maxPool2d: expected a floating-point input, got int32/)
  t.throws(() => maxPool2d(x, { kernelSize: 0 }), /maxPool2d: kernelSize must be an integer >= 1/)
  t.throws(() => maxPool2d(x, {} as MaxPool2dOptions), /maxPool2d: kernelSize is required/)
  t.throws(
    () => avgPool2d(x, { kernelSize: 2, stride: [1, 2, 3] as unknown as number }),
    /avgPool2d: stride must be an integer >= 1 or a pair/,
  )
  t.throws(
    () => avgPool2d(x, { kernelSize: 2, divisorOverride: 0 }),
    /avgPool2d: divisorOverride must be a positive integer/,
  )
  t.throws(() => adaptiveAvgPool2d(x, [0, 2]), /adaptiveAvgPool2d: outputSize must be a positive integer/)
  const gone = randn([1, 2, 4, 4])
  gone.dispose()
  t.throws(() => avgPool2d(gone, { kernelSize: 2 }), /avgPool2d: the tensor of shape \[1, 2, 4, 4\] was disposed/)
})

t.test('the native pooling entry points throw on malformed calls instead of crashing', async (t) => {
  const f = (a: Tensor) => describe(a)
  const x = zeros([1, 2, 6, 6])
  const y = zeros([1, 2, 3, 3])
  const idx = zeros([1, 2, 3, 3], { dtype: 'int32' })
  const call =
    (name: string, ...args: unknown[]) =>
    () =>
      (native[name] as (...a: unknown[]) => unknown)(...args)
  const p = [2, 2, 2, 2, 0, 0, 1, 1]
  t.doesNotThrow(call('maxPool2d', f(y), f(idx), f(x), p, false), 'a well-formed call works')
  t.throws(
    call('maxPool2d', f(zeros([1, 2, 4, 3])), f(idx), f(x), p, false),
    /maxPool2d: out \[1, 2, 4, 3\] should be 3x3 spatially/,
  )
  t.throws(
    call('maxPool2d', f(y), f(zeros([1, 2, 3, 3])), f(x), p, false),
    /maxPool2d: indices must be a contiguous int32 tensor/,
  )
  t.throws(call('maxPool2d', f(y), f(idx), f(x), [2, 2, 2], false), /maxPool2d: params must be/)
  t.throws(call('maxPool2d', f(y), f(idx), f(x), p, 'no'), /maxPool2d: argument 'ceilMode' must be a boolean/)
  t.throws(call('maxPool2d', f(y), f(idx), f(zeros([2, 6, 6])), p, false), /maxPool2d: x must be 4-d/)
  const wild = tensor([0, 1, 2, 3, 4, 5, 6, 7, 1000, 0, 0, 0, 0, 0, 0, 0, 0, 0], {
    shape: [1, 2, 3, 3],
    dtype: 'int32',
  })
  t.throws(
    call('maxPool2dBackward', f(zeros([1, 2, 6, 6])), f(y), f(wild)),
    /maxPool2dBackward: index 1000 at 8 is outside the 6x6 plane/,
  )
  t.throws(
    call('avgPool2d', f(y), f(x), [2, 2, 2, 2, 0, 0], false, true, -1),
    /avgPool2d: divisorOverride must be positive/,
  )
  t.throws(
    call('avgPool2d', f(y), f(x), [2, 2, 2, 2, 0, 0], false, true, 0.5),
    /avgPool2d: argument 'divisorOverride' must be an integer/,
  )
  t.throws(
    call('avgPool2dBackward', f(x), f(zeros([1, 3, 3, 3])), [2, 2, 2, 2, 0, 0], false, true, 0),
    /avgPool2dBackward: .*differ in batch or channels/,
  )
  t.throws(call('adaptiveAvgPool2d', f(y), f(x.to('float64'))), /adaptiveAvgPool2d: x is float64 but out is float32/)
  t.throws(call('adaptiveAvgPool2dBackward', f(x)), /adaptiveAvgPool2dBackward: expected 2 arguments, got 1/)
})

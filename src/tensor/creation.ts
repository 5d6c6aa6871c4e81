// Making tensors: from JS data, constants, ranges and random draws.
import { newTypedArray } from '../backend/element-types'
import { checkDType, dtypeOfArray, type Device, type DType, type TypedArray } from './dtype'
import { defaultGenerator, type Generator } from './random'
import { checkShape, numelOf, shapeStr } from './shape'
import { Tensor, type NestedArray } from './tensor'

export interface TensorOptions {
  dtype?: DType
  device?: Device
  requiresGrad?: boolean
}

export interface RandomOptions extends TensorOptions {
  generator?: Generator
}

function finish(t: Tensor, opts: TensorOptions): Tensor {
  const device = opts.device ?? 'cpu'
  const out = device === t.device ? t : t.to(device)
  if (out !== t) t.dispose()
  if (opts.requiresGrad) out.requiresGrad_(true)
  return out
}

// Host arrays hold element values: bfloat16 values arrive as float32 and are rounded on the device.
const hostArray = (dtype: DType, n: number): TypedArray => newTypedArray(dtype === 'bfloat16' ? 'float32' : dtype, n)

function fromHostArray(data: TypedArray, shape: number[], dtype: DType, opts: TensorOptions): Tensor {
  if (dtype === 'bfloat16') {
    const wide = fromHostArray(data, shape, 'float32', {})
    const t = Tensor.empty(shape, dtype, 'cpu')
    t.backend.copy(t, wide)
    wide.dispose()
    return finish(t, opts)
  }
  const t = Tensor.empty(shape, dtype, 'cpu')
  const src = dtypeOfArray(data) === dtype ? data : newTypedArray(dtype, data.length)
  // set() converts as element assignment does, natively; only bool needs truthiness.
  if (src !== data && dtype !== 'bool') src.set(data)
  else if (src !== data) for (let i = 0; i < data.length; i++) src[i] = data[i] ? 1 : 0
  t.backend.fromHost(t, src)
  return finish(t, opts)
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = []
  let d: NestedArray = data
  while (Array.isArray(d)) {
    shape.push(d.length)
    if (d.length === 0) break
    d = d[0]
  }
  return shape
}

function flatten(data: NestedArray, shape: number[], out: number[], depth = 0): void {
  if (depth === shape.length) {
    if (Array.isArray(data)) throw new Error(`tensor: ragged nested array (expected shape ${shapeStr(shape)})`)
    if (typeof data === 'boolean') out.push(data ? 1 : 0)
    else if (typeof data === 'number') out.push(data)
    else throw new Error(`tensor: elements must be numbers or booleans, got ${typeof data}`)
    return
  }
  if (!Array.isArray(data) || data.length !== shape[depth])
    throw new Error(`tensor: ragged nested array (expected shape ${shapeStr(shape)})`)
  for (const v of data) flatten(v, shape, out, depth + 1)
}

/**
 * A tensor from nested arrays (shape inferred), a typed array plus `shape`, or a number.
 * The dtype defaults to the typed array's, else float32 (bool for nested booleans).
 */
export function tensor(
  data: NestedArray | TypedArray | readonly number[],
  opts: TensorOptions & { shape?: number[] } = {},
): Tensor {
  if (opts.dtype !== undefined) checkDType('tensor', opts.dtype)
  if (ArrayBuffer.isView(data)) {
    const arr = data as TypedArray
    const shape = opts.shape ? checkShape('tensor', opts.shape) : [arr.length]
    if (numelOf(shape) !== arr.length)
      throw new Error(`tensor: shape ${shapeStr(shape)} needs ${numelOf(shape)} elements, the array has ${arr.length}`)
    return fromHostArray(arr, shape, opts.dtype ?? dtypeOfArray(arr), opts)
  }
  const nested = data as NestedArray
  const shape = inferShape(nested)
  const flat: number[] = []
  flatten(nested, shape, flat)
  let first: NestedArray = nested
  while (Array.isArray(first) && first.length) first = first[0]
  const dtype = opts.dtype ?? (typeof first === 'boolean' ? 'bool' : 'float32')
  const target = opts.shape ? checkShape('tensor', opts.shape) : shape
  if (numelOf(target) !== flat.length)
    throw new Error(`tensor: shape ${shapeStr(target)} needs ${numelOf(target)} elements, the data has ${flat.length}`)
  const arr = hostArray(dtype, flat.length)
  for (let i = 0; i < flat.length; i++) arr[i] = flat[i]
  return fromHostArray(arr, target, dtype, opts)
}

export function empty(shape: number[], opts: TensorOptions = {}): Tensor {
  const t = Tensor.empty(checkShape('empty', shape), checkDType('empty', opts.dtype ?? 'float32'), opts.device ?? 'cpu')
  if (opts.requiresGrad) t.requiresGrad_(true)
  return t
}

export function full(shape: number[], value: number, opts: TensorOptions = {}): Tensor {
  const t = Tensor.empty(checkShape('full', shape), checkDType('full', opts.dtype ?? 'float32'), opts.device ?? 'cpu')
  t.backend.fill(t, value)
  if (opts.requiresGrad) t.requiresGrad_(true)
  return t
}

export const zeros = (shape: number[], opts: TensorOptions = {}): Tensor => full(shape, 0, opts)
export const ones = (shape: number[], opts: TensorOptions = {}): Tensor => full(shape, 1, opts)

const likeOpts = (t: Tensor, opts: TensorOptions): TensorOptions => ({ dtype: t.dtype, device: t.device, ...opts })
export const zerosLike = (t: Tensor, opts: TensorOptions = {}): Tensor => full(t.shape, 0, likeOpts(t, opts))
export const onesLike = (t: Tensor, opts: TensorOptions = {}): Tensor => full(t.shape, 1, likeOpts(t, opts))
export const fullLike = (t: Tensor, value: number, opts: TensorOptions = {}): Tensor =>
  full(t.shape, value, likeOpts(t, opts))
export const emptyLike = (t: Tensor, opts: TensorOptions = {}): Tensor => empty(t.shape, likeOpts(t, opts))

/** Values from start (inclusive) to end (exclusive) by step; arange(n) is 0..n-1. */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start]
  if (step === 0 || !Number.isFinite(step))
    throw new Error(`arange: step must be a non-zero finite number, got ${step}`)
  const n = Math.max(0, Math.ceil((end - start) / step))
  const allInt = [start, end, step].every(Number.isInteger)
  const dtype = opts.dtype ?? (allInt ? 'int32' : 'float32')
  const arr = hostArray(dtype, n)
  for (let i = 0; i < n; i++) arr[i] = start + i * step
  return fromHostArray(arr, [n], dtype, opts)
}

/** `steps` evenly spaced values from start to end, both included. */
export function linspace(start: number, end: number, steps: number, opts: TensorOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0)
    throw new Error(`linspace: steps must be a non-negative integer, got ${steps}`)
  const dtype = opts.dtype ?? 'float32'
  const arr = hostArray(dtype, steps)
  for (let i = 0; i < steps; i++) arr[i] = steps === 1 ? start : start + ((end - start) * i) / (steps - 1)
  return fromHostArray(arr, [steps], dtype, opts)
}

export function eye(n: number, m = n, opts: TensorOptions = {}): Tensor {
  const dtype = opts.dtype ?? 'float32'
  const arr = hostArray(dtype, n * m)
  for (let i = 0; i < Math.min(n, m); i++) arr[i * m + i] = 1
  return fromHostArray(arr, [n, m], dtype, opts)
}

function randomTensor(op: string, shape: number[], opts: RandomOptions, draw: (g: Generator) => number): Tensor {
  const dtype = checkDType(op, opts.dtype ?? 'float32')
  checkShape(op, shape)
  const g = opts.generator ?? defaultGenerator
  const arr = hostArray(dtype, numelOf(shape))
  for (let i = 0; i < arr.length; i++) arr[i] = draw(g)
  return fromHostArray(arr, shape, dtype, opts)
}

/** Uniform in [0, 1). */
export function rand(shape: number[], opts: RandomOptions = {}): Tensor {
  // A draw rounded up to 1.0 in float32 or bfloat16 would leave [0, 1): clamp below 1 instead.
  const below1: Partial<Record<DType, number>> = { float32: 0.99999994, bfloat16: 0.99609375 }
  const top = below1[opts.dtype ?? 'float32'] ?? 1
  return randomTensor('rand', shape, opts, (g) => Math.min(g.random(), top))
}

/** Standard normal. */
export function randn(shape: number[], opts: RandomOptions = {}): Tensor {
  return randomTensor('randn', shape, opts, (g) => g.normal())
}

/** Uniform integers in [low, high). */
export function randint(low: number, high: number, shape: number[], opts: RandomOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low)
    throw new Error(`randint: need integers low < high, got low=${low}, high=${high}`)
  return randomTensor('randint', shape, { dtype: 'int32', ...opts }, (g) => g.integer(low, high))
}

export const randLike = (t: Tensor, opts: RandomOptions = {}): Tensor =>
  rand(t.shape, { dtype: t.dtype, device: t.device, ...opts })
export const randnLike = (t: Tensor, opts: RandomOptions = {}): Tensor =>
  randn(t.shape, { dtype: t.dtype, device: t.device, ...opts })

/** A random permutation of 0..n-1 (int32). */
export function randperm(n: number, opts: RandomOptions = {}): Tensor {
  const g = opts.generator ?? defaultGenerator
  const arr = new Int32Array(n)
  for (let i = 0; i < n; i++) arr[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = g.integer(0, i + 1)
    ;[arr[i], arr[j]] = [arr[j], arr[i]]
  }
  return fromHostArray(arr, [n], 'int32', opts)
}

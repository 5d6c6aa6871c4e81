// 2-d pooling over NCHW planes (torch.nn.functional.max_pool2d, avg_pool2d,
// adaptive_avg_pool2d). maxPool2d keeps the flat index of each maximum for its backward.
import { record } from '../autograd/node'
import { isFloating } from '../tensor/dtype'
import { shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { dense, pair, unbatched, type Size2 } from './spatial'

export interface MaxPool2dOptions {
  kernelSize: Size2
  /** Defaults to kernelSize. */
  stride?: Size2 | null
  padding?: Size2
  dilation?: Size2
  ceilMode?: boolean
}

export interface AvgPool2dOptions {
  kernelSize: Size2
  /** Defaults to kernelSize. */
  stride?: Size2 | null
  padding?: Size2
  ceilMode?: boolean
  countIncludePad?: boolean
  divisorOverride?: number | null
}

function checkInput(op: string, x: Tensor): void {
  if (x.ndim !== 4)
    throw new Error(`${op}: expected a 3-d [C, H, W] or 4-d [N, C, H, W] input, got ${shapeStr(x.shape)}`)
  if (!isFloating(x.dtype)) throw new Error(`${op}: expected a floating-point input, got ${x.dtype}`)
}

// PyTorch's pooling_output_shape: in ceil mode the last window must start inside the input
// or its left padding.
function pooledSize(n: number, k: number, p: number, s: number, d: number, ceil: boolean): number {
  let o = Math.floor((n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1
  if (ceil && (o - 1) * s >= n + p) o--
  return o
}

interface Window {
  k: [number, number]
  s: [number, number]
  p: [number, number]
  d: [number, number]
  out: [number, number, number, number]
}

function windowOf(
  op: string,
  x: Tensor,
  kernelSize: Size2,
  stride: Size2 | null | undefined,
  padding: Size2,
  dilation: Size2,
  ceil: boolean,
): Window {
  if (kernelSize === undefined) throw new Error(`${op}: kernelSize is required`)
  const k = pair(op, 'kernelSize', kernelSize, 1)
  const s = stride == null ? k : pair(op, 'stride', stride, 1)
  const p = pair(op, 'padding', padding, 0)
  const d = pair(op, 'dilation', dilation, 1)
  if (p[0] > k[0] >> 1 || p[1] > k[1] >> 1)
    throw new Error(`${op}: padding [${p}] must be at most half the kernel size [${k}]`)
  const [N, C, H, W] = x.shape
  const Ho = pooledSize(H, k[0], p[0], s[0], d[0], ceil)
  const Wo = pooledSize(W, k[1], p[1], s[1], d[1], ceil)
  if (Ho < 1 || Wo < 1)
    throw new Error(
      `${op}: input ${shapeStr(x.shape)} is too small for kernel [${k}] with padding [${p}] and dilation [${d}] (output would be ${Ho}x${Wo})`,
    )
  return { k, s, p, d, out: [N, C, Ho, Wo] }
}

/** torch.nn.functional.max_pool2d on [N, C, H, W] or [C, H, W]. */
export function maxPool2d(x: Tensor, opts: MaxPool2dOptions): Tensor {
  const op = 'maxPool2d'
  const u = unbatched(op, x, (x4) => maxPool2d(x4, opts))
  if (u) return u
  checkInput(op, x)
  const ceil = opts.ceilMode ?? false
  const w = windowOf(op, x, opts.kernelSize, opts.stride, opts.padding ?? 0, opts.dilation ?? 1, ceil)
  const out = Tensor.empty(w.out, x.dtype, x.device)
  const indices = Tensor.empty(w.out, 'int32', x.device)
  x.backend.run(op, out, indices, dense(x), [...w.k, ...w.s, ...w.p, ...w.d], ceil)
  return record(op, out, [x], (g) => {
    const gx = Tensor.empty(x.shape, x.dtype, x.device)
    x.backend.run('maxPool2dBackward', gx, dense(g), indices)
    return [gx]
  })
}

/** torch.nn.functional.avg_pool2d on [N, C, H, W] or [C, H, W]. */
export function avgPool2d(x: Tensor, opts: AvgPool2dOptions): Tensor {
  const op = 'avgPool2d'
  const u = unbatched(op, x, (x4) => avgPool2d(x4, opts))
  if (u) return u
  checkInput(op, x)
  const ceil = opts.ceilMode ?? false
  const includePad = opts.countIncludePad ?? true
  const divisor = opts.divisorOverride ?? 0
  if (opts.divisorOverride != null && (!Number.isInteger(divisor) || divisor < 1))
    throw new Error(`${op}: divisorOverride must be a positive integer, got ${opts.divisorOverride}`)
  const w = windowOf(op, x, opts.kernelSize, opts.stride, opts.padding ?? 0, 1, ceil)
  const params = [...w.k, ...w.s, ...w.p]
  const out = Tensor.empty(w.out, x.dtype, x.device)
  x.backend.run(op, out, dense(x), params, ceil, includePad, divisor)
  return record(op, out, [x], (g) => {
    const gx = Tensor.empty(x.shape, x.dtype, x.device)
    x.backend.run('avgPool2dBackward', gx, dense(g), params, ceil, includePad, divisor)
    return [gx]
  })
}

/** torch.nn.functional.adaptive_avg_pool2d; null in outputSize keeps that input size. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | readonly [number | null, number | null]): Tensor {
  const op = 'adaptiveAvgPool2d'
  const u = unbatched(op, x, (x4) => adaptiveAvgPool2d(x4, outputSize))
  if (u) return u
  checkInput(op, x)
  const [N, C, H, W] = x.shape
  const sizes =
    typeof outputSize === 'number'
      ? [outputSize, outputSize]
      : Array.isArray(outputSize) && outputSize.length === 2
        ? outputSize
        : null
  const Ho = sizes?.[0] ?? H
  const Wo = sizes?.[1] ?? W
  if (!sizes || !Number.isInteger(Ho) || !Number.isInteger(Wo) || Ho < 1 || Wo < 1)
    throw new Error(
      `${op}: outputSize must be a positive integer or a pair of them (null keeps the input size), got ${JSON.stringify(outputSize)}`,
    )
  if (H < 1 || W < 1) throw new Error(`${op}: input ${shapeStr(x.shape)} has an empty spatial dim`)
  const out = Tensor.empty([N, C, Ho, Wo], x.dtype, x.device)
  x.backend.run(op, out, dense(x))
  return record(op, out, [x], (g) => {
    const gx = Tensor.empty(x.shape, x.dtype, x.device)
    x.backend.run('adaptiveAvgPool2dBackward', gx, dense(g))
    return [gx]
  })
}

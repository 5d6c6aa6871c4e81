// Reductions over any set of dims, with keepDim. The reduced dims are permuted to the end
// (a free view) so that one kernel serves every combination.
import { autocastFloat32 } from './autocast'
import type { ReduceOp } from '../backend/backend'
import { record } from '../autograd/node'
import { isFloating } from '../tensor/dtype'
import { normalizeDim, normalizeDims, shapeStr } from '../tensor/shape'
import { full } from '../tensor/creation'
import { Tensor } from '../tensor/tensor'
import { checkTensor, expandTo } from './util'

interface Reduced {
  out: Tensor
  /** The output's shape with the reduced dims kept as 1 (to broadcast gradients back). */
  keptShape: number[]
  count: number
}

function runReduce(
  op: ReduceOp,
  name: string,
  x: Tensor,
  dim: number | readonly number[] | undefined,
  keepDim: boolean,
  correction = 0,
): Reduced {
  checkTensor(name, x, 'input')
  const dims = normalizeDims(name, dim, x.ndim)
  const keptDims = [...Array(x.ndim).keys()].filter((d) => !dims.includes(d))
  // A reduced dim along which x does not move (stride 0: an expanded gradient, a broadcast)
  // repeats one value: sum, mean, max and min need not visit it (sum scales by its size).
  const skips = isFloating(x.dtype) && (op === 'sum' || op === 'mean' || op === 'max' || op === 'min')
  const repeated = skips ? dims.filter((d) => x.strides[d] === 0 && x.shape[d] > 0) : []
  const visited = dims.filter((d) => !repeated.includes(d))
  const perm = [...keptDims, ...visited]
  const xp = x.asView(
    perm.map((d) => x.shape[d]),
    perm.map((d) => x.strides[d]),
  )
  const keptShape = x.shape.map((s, d) => (dims.includes(d) ? 1 : s))
  const outShape = keepDim ? keptShape : keptDims.map((d) => x.shape[d])
  const outDtype = op === 'argmax' || op === 'argmin' ? 'int32' : x.dtype
  const out = Tensor.empty(outShape, outDtype, x.device)
  x.backend.reduce(op, out, xp, visited.length, correction)
  xp.dispose()
  const repeats = op === 'sum' ? repeated.reduce((n, d) => n * x.shape[d], 1) : 1
  if (repeats !== 1 && out.numel > 0) scaleInPlace(out, repeats)
  const count = dims.reduce((n, d) => n * x.shape[d], 1)
  return { out, keptShape, count }
}

// out *= factor, through the backend's multiply by a scalar expanded to out's shape.
function scaleInPlace(out: Tensor, factor: number): void {
  const scalar = full([], factor, { dtype: out.dtype, device: out.device })
  const spread = expandTo(scalar, out.shape)
  out.backend.binary('mul', out, out, spread)
  if (spread !== scalar) spread.dispose()
  scalar.dispose()
}

const toFloat = (x: Tensor): Tensor => (isFloating(x.dtype) ? x : x.to('float32'))
const spread = (g: Tensor, r: Reduced, x: Tensor): Tensor => expandTo(g.reshape(r.keptShape), x.shape)

export function sum(x: Tensor, dim?: number | number[], keepDim = false): Tensor {
  return autocastFloat32([x], (x) => sumIn(x, dim, keepDim))
}

function sumIn(x: Tensor, dim: number | number[] | undefined, keepDim: boolean): Tensor {
  const r = runReduce('sum', 'sum', x, dim, keepDim)
  return record('sum', r.out, [x], (g) => [spread(g, r, x)])
}

export function mean(x: Tensor, dim?: number | number[], keepDim = false): Tensor {
  return autocastFloat32([x], (x) => meanIn(x, dim, keepDim))
}

function meanIn(x: Tensor, dim: number | number[] | undefined, keepDim: boolean): Tensor {
  const input = toFloat(x)
  const r = runReduce('mean', 'mean', input, dim, keepDim)
  return record('mean', r.out, [input], (g) => [spread(g.div(r.count), r, input)])
}

export interface VarOptions {
  /** Bessel's correction: 1 (default) divides by N-1, 0 by N. */
  correction?: number
  keepDim?: boolean
}

export function variance(x: Tensor, dim?: number | number[], opts: VarOptions = {}): Tensor {
  return autocastFloat32([x], (x) => varianceIn(x, dim, opts))
}

function varianceIn(x: Tensor, dim: number | number[] | undefined, opts: VarOptions): Tensor {
  const input = toFloat(x)
  const correction = opts.correction ?? 1
  const r = runReduce('var', 'var', input, dim, opts.keepDim ?? false, correction)
  return record('var', r.out, [input], (g) => {
    const m = input.mean(normalizeDims('var', dim, input.ndim), true)
    return [
      spread(g, r, input)
        .mul(input.sub(m))
        .mul(2 / Math.max(r.count - correction, 0)),
    ]
  })
}

export function std(x: Tensor, dim?: number | number[], opts: VarOptions = {}): Tensor {
  return variance(x, dim, opts).sqrt()
}

function extremum(op: 'max' | 'min', x: Tensor, dim: number | number[] | undefined, keepDim: boolean): Tensor {
  const r = runReduce(op, op, x, dim, keepDim)
  if (r.count === 0) throw new Error(`${op}: cannot reduce an empty dimension of shape ${shapeStr(x.shape)}`)
  // The gradient goes to every element equal to the extremum, split evenly (amax's rule).
  return record(op, r.out, [x], (g) => {
    const hit = x.eq(expandTo(r.out.reshape(r.keptShape), x.shape)).to(g.dtype)
    const n = hit.sum(normalizeDims(op, dim, x.ndim), true)
    return [spread(g, r, x).mul(hit).div(n)]
  })
}

export const max = (x: Tensor, dim?: number | number[], keepDim = false): Tensor => extremum('max', x, dim, keepDim)
export const min = (x: Tensor, dim?: number | number[], keepDim = false): Tensor => extremum('min', x, dim, keepDim)

function argExtremum(op: 'argmax' | 'argmin', x: Tensor, dim: number | undefined, keepDim: boolean): Tensor {
  checkTensor(op, x, 'input')
  if (dim === undefined) {
    const flat = x.reshape([-1])
    return runReduce(op, op, flat, 0, false).out.reshape(keepDim ? x.shape.map(() => 1) : [])
  }
  return runReduce(op, op, x, normalizeDim(op, dim, x.ndim), keepDim).out
}

/** Index of the largest value along dim (of the flattened tensor when dim is omitted). */
export const argmax = (x: Tensor, dim?: number, keepDim = false): Tensor => argExtremum('argmax', x, dim, keepDim)
export const argmin = (x: Tensor, dim?: number, keepDim = false): Tensor => argExtremum('argmin', x, dim, keepDim)

export function logsumexp(x: Tensor, dim: number | number[], keepDim = false): Tensor {
  return autocastFloat32([x], (x) => logsumexpIn(x, dim, keepDim))
}

function logsumexpIn(x: Tensor, dim: number | number[], keepDim: boolean): Tensor {
  const input = toFloat(x)
  const r = runReduce('logsumexp', 'logsumexp', input, dim, keepDim)
  return record('logsumexp', r.out, [input], (g) => [
    spread(g, r, input).mul(input.sub(expandTo(r.out.reshape(r.keptShape), input.shape)).exp()),
  ])
}

export function prod(x: Tensor, dim?: number | number[], keepDim = false): Tensor {
  return autocastFloat32([x], (x) => prodIn(x, dim, keepDim))
}

function prodIn(x: Tensor, dim: number | number[] | undefined, keepDim: boolean): Tensor {
  const r = runReduce('prod', 'prod', x, dim, keepDim)
  // d(prod)/dx_i = prod / x_i; exact where no element is zero.
  return record('prod', r.out, [x], (g) => [spread(g.mul(r.out), r, x).div(x)])
}

// Shape ops. Views share memory with their input (no copy); reshape copies only when the
// strides cannot describe the new shape, as in PyTorch.
import { record } from '../autograd/node'
import { checkDType, isFloating, type Device, type DType } from '../tensor/dtype'
import { contiguousStrides, normalizeDim, numelOf, shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { zeros } from '../tensor/creation'
import { checkTensor, expandTo, sumTo } from './util'

function resolveShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const out = [...shape]
  const infer = out.indexOf(-1)
  if (out.some((s, i) => !Number.isInteger(s) || s < -1 || (s === -1 && i !== infer)))
    throw new Error(`${op}: invalid shape ${shapeStr(shape)} (sizes must be non-negative integers, at most one -1)`)
  if (infer >= 0) {
    const rest = out.reduce((n, s, i) => (i === infer ? n : n * s), 1)
    if (rest === 0 || x.numel % rest !== 0)
      throw new Error(
        `${op}: shape ${shapeStr(shape)} is invalid for input of size ${x.numel} (shape ${shapeStr(x.shape)})`,
      )
    out[infer] = x.numel / rest
  }
  if (numelOf(out) !== x.numel)
    throw new Error(
      `${op}: shape ${shapeStr(shape)} is invalid for input of size ${x.numel} (shape ${shapeStr(x.shape)})`,
    )
  return out
}

/** Strides for viewing x as `shape` without a copy, or null when impossible. */
function viewStrides(x: Tensor, shape: number[]): number[] | null {
  if (x.isContiguous()) return contiguousStrides(shape)
  // Group x's dims into contiguous chunks and map each chunk onto a run of new dims.
  const oldShape = x.shape.filter((s) => s !== 1)
  const oldStrides = x.strides.filter((_, i) => x.shape[i] !== 1)
  const strides = new Array<number>(shape.length).fill(0)
  let oi = 0
  let ni = 0
  while (ni < shape.length || oi < oldShape.length) {
    if (ni < shape.length && shape[ni] === 1) {
      strides[ni] = 1
      ni++
      continue
    }
    if (oi >= oldShape.length || ni >= shape.length) return null
    // Take old dims [oi, oj) forming one contiguous chunk whose size matches new dims [ni, nj).
    let oldSize = oldShape[oi]
    let oj = oi + 1
    let newSize = shape[ni]
    let nj = ni + 1
    while (oldSize !== newSize) {
      if (oldSize < newSize) {
        if (oj >= oldShape.length || oldStrides[oj - 1] !== oldStrides[oj] * oldShape[oj]) return null
        oldSize *= oldShape[oj++]
      } else {
        if (nj >= shape.length) return null
        newSize *= shape[nj++]
      }
    }
    for (let k = oi; k + 1 < oj; k++) if (oldStrides[k] !== oldStrides[k + 1] * oldShape[k + 1]) return null
    let s = oldStrides[oj - 1]
    for (let k = nj - 1; k >= ni; k--) {
      strides[k] = s
      s *= shape[k]
    }
    oi = oj
    ni = nj
  }
  return strides
}

function viewOf(
  op: string,
  x: Tensor,
  shape: number[],
  strides: number[],
  offset = x.offset,
  backward: (g: Tensor) => Tensor,
): Tensor {
  const out = x.asView(shape, strides, offset)
  return record(op, out, [x], (g) => [backward(g)])
}

export function view(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('view', x, 'input')
  const target = resolveShape('view', x, shape)
  const strides = viewStrides(x, target)
  if (!strides)
    throw new Error(
      `view: shape ${shapeStr(target)} is not compatible with the input's strides (shape ${shapeStr(x.shape)}); use reshape`,
    )
  return viewOf('view', x, target, strides, x.offset, (g) => g.reshape(x.shape))
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('reshape', x, 'input')
  const target = resolveShape('reshape', x, shape)
  const strides = viewStrides(x, target)
  if (strides) return viewOf('reshape', x, target, strides, x.offset, (g) => g.reshape(x.shape))
  return view(contiguous(x), target)
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  checkTensor('permute', x, 'input')
  if (dims.length !== x.ndim)
    throw new Error(`permute: got ${dims.length} dims ${shapeStr(dims)} for a tensor of ${x.ndim} dims`)
  const d = dims.map((v) => normalizeDim('permute', v, x.ndim))
  if (new Set(d).size !== d.length) throw new Error(`permute: dims ${shapeStr(dims)} repeat a dimension`)
  const inverse = new Array<number>(d.length)
  d.forEach((v, i) => (inverse[v] = i))
  return viewOf(
    'permute',
    x,
    d.map((i) => x.shape[i]),
    d.map((i) => x.strides[i]),
    x.offset,
    (g) => permute(g, inverse),
  )
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  checkTensor('transpose', x, 'input')
  const a = normalizeDim('transpose', dim0, x.ndim, 'dim0')
  const b = normalizeDim('transpose', dim1, x.ndim, 'dim1')
  const dims = [...Array(x.ndim).keys()]
  ;[dims[a], dims[b]] = [dims[b], dims[a]]
  return permute(x, dims)
}

export function expand(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('expand', x, 'input')
  const lead = shape.length - x.ndim
  const target = shape.map((s, i) => (s === -1 && i >= lead ? x.shape[i - lead] : s))
  const v = expandTo(x, target)
  if (v === x) return x
  return record('expand', v, [x], (g) => [sumTo(g, x.shape)])
}

export function squeeze(x: Tensor, dim?: number | number[]): Tensor {
  checkTensor('squeeze', x, 'input')
  const dims =
    dim === undefined ? null : (typeof dim === 'number' ? [dim] : dim).map((d) => normalizeDim('squeeze', d, x.ndim))
  const keepDim = (i: number) => x.shape[i] !== 1 || (dims !== null && !dims.includes(i))
  const idx = [...Array(x.ndim).keys()].filter(keepDim)
  return viewOf(
    'squeeze',
    x,
    idx.map((i) => x.shape[i]),
    idx.map((i) => x.strides[i]),
    x.offset,
    (g) => g.reshape(x.shape),
  )
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  checkTensor('unsqueeze', x, 'input')
  const d = normalizeDim('unsqueeze', dim, x.ndim + 1)
  const shape = [...x.shape]
  const strides = [...x.strides]
  shape.splice(d, 0, 1)
  strides.splice(d, 0, d < x.ndim ? x.strides[d] * x.shape[d] : 1)
  return viewOf('unsqueeze', x, shape, strides, x.offset, (g) => g.reshape(x.shape))
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  checkTensor('flatten', x, 'input')
  if (x.ndim === 0) return reshape(x, [1])
  const s = normalizeDim('flatten', startDim, x.ndim, 'startDim')
  const e = normalizeDim('flatten', endDim, x.ndim, 'endDim')
  if (s > e) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim}`)
  const shape = [...x.shape.slice(0, s), x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1), ...x.shape.slice(e + 1)]
  return reshape(x, shape)
}

/** Elements start, start+step, ... below end along dim (Python's x[start:end:step]). */
export function slice(x: Tensor, dim: number, start = 0, end?: number, step = 1): Tensor {
  checkTensor('slice', x, 'input')
  const d = normalizeDim('slice', dim, x.ndim)
  const n = x.shape[d]
  if (!Number.isInteger(step) || step <= 0) throw new Error(`slice: step must be a positive integer, got ${step}`)
  const clampIdx = (i: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n)
  const s = clampIdx(start)
  const e = Math.max(clampIdx(end ?? n), s)
  const len = Math.ceil((e - s) / step)
  const shape = [...x.shape]
  const strides = [...x.strides]
  shape[d] = len
  strides[d] = x.strides[d] * step
  return viewOf('slice', x, shape, strides, x.offset + s * x.strides[d], (g) => {
    const gx = zeros(x.shape, { dtype: g.dtype, device: g.device })
    const region = gx.asView(
      shape,
      strides.map((st, i) => (i === d ? gx.strides[i] * step : gx.strides[i])),
      s * gx.strides[d],
    )
    copyInto(region, g)
    region.dispose()
    return gx
  })
}

export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  checkTensor('narrow', x, 'input')
  const d = normalizeDim('narrow', dim, x.ndim)
  const s = start < 0 ? start + x.shape[d] : start
  if (!Number.isInteger(length) || length < 0 || s < 0 || s + length > x.shape[d])
    throw new Error(
      `narrow: start ${start} and length ${length} do not fit dim ${dim} of size ${x.shape[d]} (shape ${shapeStr(x.shape)})`,
    )
  return slice(x, d, s, s + length)
}

/** The sub-tensor at `index` along dim, with that dim removed (x[..., index, ...]). */
export function select(x: Tensor, dim: number, index: number): Tensor {
  checkTensor('select', x, 'input')
  const d = normalizeDim('select', dim, x.ndim)
  const i = index < 0 ? index + x.shape[d] : index
  if (!Number.isInteger(i) || i < 0 || i >= x.shape[d])
    throw new Error(
      `select: index ${index} is out of range for dim ${dim} of size ${x.shape[d]} (shape ${shapeStr(x.shape)})`,
    )
  return squeeze(narrow(x, d, i, 1), d)
}

/** Writes src (broadcast to dst's shape, cast to its dtype) into dst, outside autograd. */
export function copyInto(dst: Tensor, src: Tensor): void {
  dst.checkAlive('copy_')
  src.checkAlive('copy_')
  if (src.device !== dst.device) {
    const moved = to(src, dst.device)
    copyInto(dst, moved)
    moved.dispose()
    return
  }
  dst.backend.copy(dst, expandTo(src, dst.shape))
}

export function contiguous(x: Tensor): Tensor {
  checkTensor('contiguous', x, 'input')
  if (x.isContiguous()) return x
  return clone(x)
}

export function clone(x: Tensor): Tensor {
  checkTensor('clone', x, 'input')
  const out = Tensor.empty(x.shape, x.dtype, x.device)
  x.backend.copy(out, x)
  return record('clone', out, [x], (g) => [g])
}

function isDevice(v: string): v is Device {
  return v === 'cpu' || v === 'cuda'
}

/** Converts to a dtype or moves to a device; returns x itself when nothing changes. */
export function to(x: Tensor, target: DType | Device): Tensor {
  checkTensor('to', x, 'input')
  if (isDevice(target)) {
    if (target === x.device) return x
    const src = contiguous(x)
    const out = Tensor.empty(x.shape, x.dtype, target)
    // Device moves go through host memory; a backend pair may add a direct path later.
    out.backend.fromHost(out, src.backend.toHost(src))
    if (src !== x) src.dispose()
    return record('to', out, [x], (g) => [to(g, x.device)])
  }
  const dtype = checkDType('to', target)
  if (dtype === x.dtype) return x
  const out = Tensor.empty(x.shape, dtype, x.device)
  x.backend.copy(out, x)
  const differentiable = isFloating(dtype) && isFloating(x.dtype)
  return differentiable ? record('to', out, [x], (g) => [to(g, x.dtype)]) : out
}

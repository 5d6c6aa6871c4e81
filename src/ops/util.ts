// Helpers every op file uses: scalar wrapping, dtype and device agreement, broadcasting
// views, contiguous views for kernels, and reducing a broadcast gradient back to its input's
// shape.
import type { DType } from '../tensor/dtype'
import { promoteTensorTypes, promoteWithScalar } from '../tensor/dtype'
import { broadcastShapes, contiguousStrides, sameShape, shapeStr } from '../tensor/shape'
import { Tensor, type TensorLike } from '../tensor/tensor'
import { full } from '../tensor/creation'

export function checkTensor(op: string, t: unknown, arg: string): Tensor {
  if (!(t instanceof Tensor))
    throw new Error(`${op}: argument '${arg}' must be a Tensor, got ${t === null ? 'null' : typeof t}`)
  t.checkAlive(op)
  return t
}

export function checkSameDevice(op: string, ...ts: Tensor[]): void {
  for (const t of ts)
    if (t.device !== ts[0].device)
      throw new Error(`${op}: tensors are on different devices (${ts.map((x) => x.device).join(', ')})`)
}

/** The common dtype of tensors and JS numbers, PyTorch's way. */
export function resultType(a: TensorLike, b: TensorLike): DType {
  if (a instanceof Tensor && b instanceof Tensor) return promoteTensorTypes(a, b)
  if (a instanceof Tensor) return promoteWithScalar(a.dtype, b as number)
  return promoteWithScalar((b as Tensor).dtype, a as number)
}

/** A tensor from a tensor or a number, in `dtype` on `like`'s device. */
export function lift(op: string, v: TensorLike, dtype: DType, like: Tensor, arg: string): Tensor {
  if (v instanceof Tensor) {
    v.checkAlive(op)
    return v.dtype === dtype ? v : v.to(dtype)
  }
  if (typeof v !== 'number') throw new Error(`${op}: argument '${arg}' must be a Tensor or a number, got ${typeof v}`)
  return full([], v, { dtype, device: like.device })
}

/** A stride-0 broadcast view of t at `shape` (no autograd: the op's backward sums back). */
export function expandTo(t: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(t.shape, shape)) return t
  const lead = shape.length - t.ndim
  if (lead < 0) throw new Error(`expand: cannot expand shape ${shapeStr(t.shape)} to ${shapeStr(shape)}`)
  const strides = shape.map((s, i) => {
    const j = i - lead
    if (j < 0) return 0
    if (t.shape[j] === s) return t.strides[j]
    if (t.shape[j] === 1) return 0
    throw new Error(`expand: cannot expand shape ${shapeStr(t.shape)} to ${shapeStr(shape)}`)
  })
  return t.asView([...shape], strides)
}

/** A contiguous view of t with another shape of the same size, for a kernel (copies if t is strided). */
export function kernelView(t: Tensor, shape: number[]): Tensor {
  const base = t.isContiguous() ? t : t.contiguous()
  const v = base.asView(shape, contiguousStrides(shape))
  if (base !== t) base.dispose() // the view holds the copy's storage
  return v
}

/** Disposes the views an op made for one kernel call, never the tensors it was given: the
 * views hold references that would keep their storage out of the allocator's cache. */
export function releaseTemporaries(temps: Tensor[], keepers: Tensor[]): void {
  for (const t of temps) if (!keepers.includes(t)) t.dispose()
}

/** releaseTemporaries for one view and two given tensors, without the arrays (a binary op's
 * broadcast views: the hot path of every elementwise op). */
export function releaseTemporary(t: Tensor, a: Tensor, b: Tensor): void {
  if (t !== a && t !== b) t.dispose()
}

/** Sums a gradient over the dimensions that broadcasting added or stretched. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g
  const lead = g.ndim - shape.length
  const dims: number[] = []
  for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i)
  const s = dims.length ? g.sum(dims, true) : g
  return s.reshape([...shape])
}

export function broadcastPair(
  op: string,
  a: TensorLike,
  b: TensorLike,
): { a: Tensor; b: Tensor; shape: number[]; dtype: DType } {
  const like = a instanceof Tensor ? a : b
  if (!(like instanceof Tensor)) throw new Error(`${op}: at least one argument must be a Tensor`)
  const dtype = resultType(a, b)
  const ta = lift(op, a, dtype, like, 'input')
  const tb = lift(op, b, dtype, like, 'other')
  if (ta.storage.device !== tb.storage.device) checkSameDevice(op, ta, tb)
  const shape = broadcastShapes(op, ta.shape, tb.shape)
  return { a: ta, b: tb, shape, dtype }
}

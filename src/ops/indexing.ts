// Index ops on native kernels, with int32 indices checked in the kernel (an out-of-range
// index is an error naming it, never a stray access): indexSelect and embedding (backward:
// indexAdd), gather and scatterAdd (each the other's backward).
import { record } from '../autograd/node'
import { isFloating } from '../tensor/dtype'
import { normalizeDim, numelOf, shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { zeros } from '../tensor/creation'
import { checkSameDevice, checkTensor, kernelView } from './util'

function checkIndex(op: string, index: Tensor, arg = 'index'): void {
  checkTensor(op, index, arg)
  if (index.dtype !== 'int32') throw new Error(`${op}: ${arg} must be int32, got ${index.dtype}`)
}

/** Gradient of a select-like op: shaped like the input, the sum of the rows each index picked
 * (zero where none did), written by the kernel in one pass. */
function scatterRows(
  x: Tensor,
  g: Tensor,
  index: Tensor,
  outer: number,
  D: number,
  inner: number,
  dim: number,
  skip: number,
): Tensor {
  const gx = Tensor.empty(x.shape, x.dtype, x.device)
  const views = [
    kernelView(gx, [outer, D, inner]),
    kernelView(g.dtype === x.dtype ? g : g.to(x.dtype), [outer, index.numel, inner]),
  ]
  x.backend.run('indexAdd', views[0], index, views[1], dim, skip, false)
  for (const v of views) v.dispose()
  return gx
}

/** The entries of x at `index` (1-d int32) along dim (torch.index_select). */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  const op = 'indexSelect'
  checkTensor(op, x, 'input')
  checkIndex(op, index)
  checkSameDevice(op, x, index)
  if (index.ndim > 1) throw new Error(`${op}: index must be 0-d or 1-d, got shape ${shapeStr(index.shape)}`)
  const x1 = x.ndim === 0 ? x.reshape([1]) : x
  const d = normalizeDim(op, dim, x1.ndim)
  const idx = index.ndim === 0 ? index.reshape([1]) : index
  const outer = numelOf(x1.shape.slice(0, d))
  const D = x1.shape[d]
  const inner = numelOf(x1.shape.slice(d + 1))
  const K = idx.numel
  const outShape = x.ndim === 0 ? [] : x.shape.map((s, i) => (i === d ? K : s))
  const out = Tensor.empty(outShape, x.dtype, x.device)
  const views = [kernelView(out, [outer, K, inner]), kernelView(x1, [outer, D, inner])]
  x.backend.run(op, views[0], views[1], idx, d)
  for (const v of views) v.dispose()
  return record(op, out, [x], (g) => [scatterRows(x, g, idx, outer, D, inner, d, -1)])
}

export interface EmbeddingOptions {
  /** Rows looked up at this index get no gradient (they stay fixed during training). */
  paddingIdx?: number | null
}

/** Rows of weight [numEmbeddings, dim] at integer indices of any shape (torch.nn.functional.embedding). */
export function embedding(indices: Tensor, weight: Tensor, opts: EmbeddingOptions = {}): Tensor {
  const op = 'embedding'
  checkIndex(op, indices, 'indices')
  checkTensor(op, weight, 'weight')
  checkSameDevice(op, indices, weight)
  if (weight.ndim !== 2)
    throw new Error(`${op}: weight must be 2-d [numEmbeddings, dim], got ${shapeStr(weight.shape)}`)
  const [num, dim] = weight.shape
  let pad = opts.paddingIdx ?? null
  if (pad !== null) {
    if (!Number.isInteger(pad) || pad < -num || pad >= num)
      throw new Error(`${op}: paddingIdx ${pad} is out of range for ${num} embeddings`)
    if (pad < 0) pad += num
  }
  const flat = kernelView(indices, [indices.numel])
  const out = Tensor.empty([...indices.shape, dim], weight.dtype, weight.device)
  const views = [kernelView(out, [1, indices.numel, dim]), kernelView(weight, [1, num, dim])]
  try {
    weight.backend.run('indexSelect', views[0], views[1], flat, 0)
  } catch (e) {
    throw new Error(`${op}: ${(e as Error).message.replace(/^indexSelect: /, '')} (weight ${shapeStr(weight.shape)})`)
  } finally {
    for (const v of views) v.dispose()
  }
  return record(op, out, [weight], (g) => [scatterRows(weight, g, flat, 1, num, dim, 0, pad ?? -1)])
}

function checkGatherShapes(op: string, x: Tensor, index: Tensor, d: number, other?: Tensor): void {
  if (index.ndim !== x.ndim || (other && other.ndim !== x.ndim))
    throw new Error(
      `${op}: index ${shapeStr(index.shape)} must have as many dims as input ${shapeStr(x.shape)}${other ? ` and src ${shapeStr(other.shape)}` : ''}`,
    )
  for (let i = 0; i < x.ndim; i++) {
    if ((i !== d && index.shape[i] > x.shape[i]) || (other && index.shape[i] > other.shape[i]))
      throw new Error(
        `${op}: index ${shapeStr(index.shape)} is larger than input ${shapeStr(x.shape)}${other ? ` or src ${shapeStr(other.shape)}` : ''} in dim ${i}`,
      )
  }
}

/** out[i][j][k] = x[i][index[i][j][k]][k] for dim 1, and so on (torch.gather). */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  const op = 'gather'
  checkTensor(op, x, 'input')
  checkIndex(op, index)
  checkSameDevice(op, x, index)
  const x1 = x.ndim === 0 ? x.reshape([1]) : x
  const i1 = index.ndim === 0 ? index.reshape([1]) : index
  const d = normalizeDim(op, dim, x1.ndim)
  checkGatherShapes(op, x1, i1, d)
  const out = Tensor.empty(index.shape, x.dtype, x.device)
  const outV = out.ndim === 0 ? out.reshape([1]) : out
  x.backend.run(op, outV, x1, i1, d)
  return record(op, out, [x], (g) => {
    const gx = zeros(x1.shape, { dtype: x.dtype, device: x.device })
    x.backend.run('scatterAdd', gx, i1, g.reshape(i1.shape), d)
    return [gx.reshape(x.shape)]
  })
}

/** A copy of x with src's entries added at index along dim (torch.scatter_add). */
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  const op = 'scatterAdd'
  checkTensor(op, x, 'input')
  checkIndex(op, index)
  checkTensor(op, src, 'src')
  checkSameDevice(op, x, index, src)
  if (src.dtype !== x.dtype) throw new Error(`${op}: src is ${src.dtype} but the input is ${x.dtype}`)
  const x1 = x.ndim === 0 ? x.reshape([1]) : x
  const i1 = index.ndim === 0 ? index.reshape([1]) : index
  const s1 = src.ndim === 0 ? src.reshape([1]) : src
  const d = normalizeDim(op, dim, x1.ndim)
  checkGatherShapes(op, x1, i1, d, s1)
  if (!isFloating(x.dtype) && x.dtype !== 'int32') throw new Error(`${op}: cannot add ${x.dtype} tensors`)
  const out = Tensor.empty(x.shape, x.dtype, x.device)
  const outV = out.ndim === 0 ? out.asView([1], [1]) : out
  outV.copy_(x1)
  x.backend.run(op, outV, i1, s1, d)
  return record(op, out, [x, src], (g) => {
    if (!src.requiresGrad) return [g, null]
    const picked = gather(g.reshape(x1.shape), d, i1)
    if (i1.shape.every((s, i) => s === s1.shape[i])) return [g, picked.reshape(src.shape)]
    // src entries beyond index's extent were never added: their gradient is 0.
    const gs = zeros(s1.shape, { dtype: src.dtype, device: src.device })
    const region = gs.asView(i1.shape, gs.strides)
    region.copy_(picked)
    region.dispose()
    return [g, gs.reshape(src.shape)]
  })
}

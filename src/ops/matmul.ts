// matmul (batched, broadcast, 1-d operands as in PyTorch) and linear, on the native GEMM.
import { autocastLow } from './autocast'
import { record } from '../autograd/node'
import { isFloating } from '../tensor/dtype'
import { broadcastShapes, shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { checkSameDevice, checkTensor, expandTo, releaseTemporaries, sumTo } from './util'

/** Collapses the batch dims of a [..., r, c] view into one, copying only if strides forbid it. */
function as3d(t: Tensor, batch: number[]): Tensor {
  const r = t.shape[t.ndim - 2]
  const c = t.shape[t.ndim - 1]
  const bs = t.strides.slice(0, t.ndim - 2)
  const bshape = t.shape.slice(0, t.ndim - 2)
  let mergeable = true
  for (let i = 0; i + 1 < bshape.length; i++)
    if (bshape[i + 1] !== 1 && bs[i] !== bs[i + 1] * bshape[i + 1]) mergeable = false
  const rowOk = t.strides[t.ndim - 1] === 1 || t.strides[t.ndim - 2] === 1 || r === 1 || c === 1
  const n = batch.reduce((a, b) => a * b, 1)
  if (mergeable && rowOk) {
    const innermost = bs.length ? bs[bs.length - 1] : 0
    return t.asView([n, r, c], [n === 1 ? 0 : innermost, t.strides[t.ndim - 2], t.strides[t.ndim - 1]])
  }
  const copy = t.contiguous()
  const view = copy.asView([n, r, c], [r * c, c, 1])
  copy.dispose() // the view holds the memory
  return view
}

/** x @ y summed over the batch dims that `shape` broadcast. In bfloat16 the sum accumulates in
 * float32 and rounds once, as one GEMM over the batch would (not once per product). */
function productSummedTo(x: Tensor, y: Tensor, shape: readonly number[]): Tensor {
  const broadcast =
    x.ndim > shape.length || y.ndim > shape.length || x.shape.slice(0, -2).some((s, i) => s !== shape[i])
  if (x.dtype !== 'bfloat16' || !broadcast) return sumTo(matmul(x, y), shape)
  return sumTo(matmul(x.float(), y.float()), shape).to('bfloat16')
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  return autocastLow([a, b], (a, b) => matmulIn(a, b))
}

function matmulIn(a: Tensor, b: Tensor): Tensor {
  checkTensor('matmul', a, 'input')
  checkTensor('matmul', b, 'other')
  checkSameDevice('matmul', a, b)
  if (a.ndim === 0 || b.ndim === 0)
    throw new Error(`matmul: both arguments need at least 1 dim, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`)
  if (a.dtype !== b.dtype || !isFloating(a.dtype))
    throw new Error(`matmul: expected float tensors of one dtype, got ${a.dtype} and ${b.dtype}`)
  if (a.ndim === 1 && b.ndim === 1) return matmul(a.unsqueeze(0), b.unsqueeze(1)).reshape([])
  if (a.ndim === 1) return matmul(a.unsqueeze(0), b).squeeze(-2)
  if (b.ndim === 1) return matmul(a, b.unsqueeze(1)).squeeze(-1)
  const [m, k] = a.shape.slice(-2)
  const [k2, n] = b.shape.slice(-2)
  if (k !== k2)
    throw new Error(`matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} cannot be multiplied (${k} != ${k2})`)
  const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2))
  const ea = expandTo(a, [...batch, m, k])
  const eb = expandTo(b, [...batch, k, n])
  const a3 = as3d(ea, batch)
  const b3 = as3d(eb, batch)
  const out = Tensor.empty([...batch, m, n], a.dtype, a.device)
  const o3 = out.asView([a3.shape[0], m, n], [m * n, n, 1], 0)
  a.backend.matmul(o3, a3, b3, null)
  releaseTemporaries([ea, eb, a3, b3, o3], [a, b])
  return record('matmul', out, [a, b], (g) => [
    a.requiresGrad ? productSummedTo(g, b.transpose(-1, -2), a.shape) : null,
    b.requiresGrad ? productSummedTo(a.transpose(-1, -2), g, b.shape) : null,
  ])
}

/** y = x @ weight^T + bias, weight [out, in], x [..., in] (torch.nn.functional.linear). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return autocastLow([x, weight, bias], (x, weight, bias) => linearIn(x, weight, bias))
}

function linearIn(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  checkTensor('linear', x, 'input')
  checkTensor('linear', weight, 'weight')
  if (bias) checkTensor('linear', bias, 'bias')
  checkSameDevice('linear', x, weight, ...(bias ? [bias] : []))
  if (weight.ndim !== 2 || x.ndim < 1 || x.shape[x.ndim - 1] !== weight.shape[1])
    throw new Error(
      `linear: input ${shapeStr(x.shape)} does not fit weight ${shapeStr(weight.shape)} (expected [..., ${weight.shape[1] ?? '?'}] and weight [out, in])`,
    )
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0]))
    throw new Error(
      `linear: bias ${shapeStr(bias.shape)} does not fit weight ${shapeStr(weight.shape)} (expected [${weight.shape[0]}])`,
    )
  if (x.dtype !== weight.dtype || (bias && bias.dtype !== x.dtype) || !isFloating(x.dtype))
    throw new Error(
      `linear: input, weight and bias must share a float dtype, got ${x.dtype}, ${weight.dtype}${bias ? `, ${bias.dtype}` : ''}`,
    )
  const [outF, inF] = weight.shape
  const lead = x.shape.slice(0, -1)
  const rows = lead.reduce((a, b) => a * b, 1)
  const x2 = x.isContiguous() ? x : x.contiguous()
  const out = Tensor.empty([...lead, outF], x.dtype, x.device)
  const wT = weight.asView([1, inF, outF], [0, weight.strides[1], weight.strides[0]])
  const o3 = out.asView([1, rows, outF], [0, outF, 1], 0)
  const x3 = x2.asView([1, rows, inF], [0, inF, 1])
  x.backend.matmul(o3, x3, wT, bias ?? null)
  releaseTemporaries([wT, o3, x3], [])
  return record('linear', out, [x, weight, bias], (g) => {
    const g2 = g.reshape([rows, outF])
    return [
      x.requiresGrad ? matmul(g2, weight).reshape(x.shape) : null,
      weight.requiresGrad ? matmul(g2.t(), x2.reshape([rows, inF])) : null,
      bias && bias.requiresGrad ? g2.sum(0) : null,
    ]
  })
}

// Scaled dot-product attention on the tiled native kernels (native/cpu/ops/attention.cc):
// the forward saves only a logsumexp per query and the backward recomputes probabilities
// tile by tile, so memory is O(L * E) however long the sequence (an additive mask that
// requires grad is the exception: its gradient is [.., L, S] by nature).
import { autocastLow } from './autocast'
import { record } from '../autograd/node'
import { isFloating } from '../tensor/dtype'
import { drawSeed, type Generator } from '../tensor/random'
import { broadcastShapes, numelOf, shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { zeros } from '../tensor/creation'
import { checkSameDevice, checkTensor, expandTo, kernelView, sumTo } from './util'

export interface AttentionOptions {
  /** Broadcastable to [..., L, S]: bool (true = attend, PyTorch's convention) or additive float. */
  attnMask?: Tensor | null
  /** Dropout on the attention probabilities (only when > 0). */
  dropoutP?: number
  /** Query i attends to keys j <= i (top-left aligned, as PyTorch); excludes attnMask. */
  isCausal?: boolean
  /** Defaults to 1 / sqrt(E). */
  scale?: number
  /** Draws the dropout seed; defaultGenerator when omitted. */
  generator?: Generator
}

/**
 * softmax(q k^T * scale + mask) v for q [..., L, E], k [..., S, E], v [..., S, Ev]
 * (batch dims broadcast), as torch.nn.functional.scaled_dot_product_attention.
 * A query whose keys are all masked gets a zero output and zero gradients.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  return autocastLow([q, k, v, opts.attnMask], (q, k, v, attnMask) =>
    attentionIn(q, k, v, attnMask === opts.attnMask ? opts : { ...opts, attnMask }),
  )
}

function attentionIn(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  const op = 'scaledDotProductAttention'
  checkTensor(op, q, 'query')
  checkTensor(op, k, 'key')
  checkTensor(op, v, 'value')
  checkSameDevice(op, q, k, v)
  if (!isFloating(q.dtype) || k.dtype !== q.dtype || v.dtype !== q.dtype)
    throw new Error(`${op}: query, key and value must share a float dtype, got ${q.dtype}, ${k.dtype}, ${v.dtype}`)
  if (q.ndim < 2 || k.ndim < 2 || v.ndim < 2)
    throw new Error(
      `${op}: query, key and value need at least 2 dims [..., seq, dim], got ${shapeStr(q.shape)}, ${shapeStr(k.shape)}, ${shapeStr(v.shape)}`,
    )
  const [L, E] = q.shape.slice(-2)
  const [S, Ek] = k.shape.slice(-2)
  const [Sv, Ev] = v.shape.slice(-2)
  if (Ek !== E || Sv !== S)
    throw new Error(
      `${op}: shapes do not fit: query ${shapeStr(q.shape)}, key ${shapeStr(k.shape)}, value ${shapeStr(v.shape)} (expected key [..., S, ${E}] and value [..., S, Ev])`,
    )
  const batch = broadcastShapes(op, q.shape.slice(0, -2), k.shape.slice(0, -2), v.shape.slice(0, -2))
  const B = numelOf(batch)
  const { attnMask = null, dropoutP = 0, isCausal = false } = opts
  const scale = opts.scale ?? 1 / Math.sqrt(E)
  if (typeof dropoutP !== 'number' || !(dropoutP >= 0 && dropoutP < 1))
    throw new Error(`${op}: dropoutP must be in [0, 1), got ${dropoutP}`)
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale must be a finite number, got ${scale}`)
  if (attnMask && isCausal) throw new Error(`${op}: give either attnMask or isCausal, not both`)
  let mask: Tensor | null = null
  if (attnMask) {
    checkTensor(op, attnMask, 'attnMask')
    checkSameDevice(op, q, attnMask)
    if (attnMask.dtype !== 'bool' && attnMask.dtype !== q.dtype)
      throw new Error(`${op}: attnMask must be bool or ${q.dtype} (additive), got ${attnMask.dtype}`)
    const full = [...batch, L, S]
    if (
      attnMask.ndim > full.length ||
      attnMask.shape.some((s, i) => s !== 1 && s !== full[full.length - attnMask.ndim + i])
    )
      throw new Error(`${op}: attnMask ${shapeStr(attnMask.shape)} does not broadcast to ${shapeStr(full)}`)
    mask = expandTo(attnMask, full) // stride-0 view: the kernel reads the mask as given
  }
  const as3 = (t: Tensor, r: number, c: number) => kernelView(expandTo(t, [...batch, r, c]), [B, r, c])
  const q3 = as3(q, L, E)
  const k3 = as3(k, S, E)
  const v3 = as3(v, S, Ev)
  const [lo, hi] = dropoutP > 0 ? drawSeed(opts.generator) : [0, 0]
  const out = Tensor.empty([...batch, L, Ev], q.dtype, q.device)
  const out3 = out.asView([B, L, Ev], [L * Ev, Ev, 1])
  const lse = Tensor.empty([B, L], q.dtype, q.device)
  q.backend.run('attentionForward', out3, lse, q3, k3, v3, mask, isCausal, scale, dropoutP, lo, hi)
  const maskGrad = mask !== null && attnMask !== null && attnMask.requiresGrad && attnMask.dtype !== 'bool'
  return record(op, out, [q, k, v, maskGrad ? attnMask : null], (g) => {
    const g3 = kernelView(g, [B, L, Ev])
    const dq = Tensor.empty([...batch, L, E], q.dtype, q.device)
    const dk = Tensor.empty([...batch, S, E], q.dtype, q.device)
    const dv = Tensor.empty([...batch, S, Ev], q.dtype, q.device)
    const dm = maskGrad ? zeros([...batch, L, S], { dtype: q.dtype, device: q.device }) : null
    const views = [
      kernelView(dq, [B, L, E]),
      kernelView(dk, [B, S, E]),
      kernelView(dv, [B, S, Ev]),
      dm && kernelView(dm, [B, L, S]),
    ]
    q.backend.run(
      'attentionBackward',
      views[0],
      views[1],
      views[2],
      views[3],
      g3,
      q3,
      k3,
      v3,
      out3,
      lse,
      mask,
      isCausal,
      scale,
      dropoutP,
      lo,
      hi,
    )
    for (const t of [...views, g3]) t?.dispose()
    // Broadcast batch dims were expanded: their gradients sum back.
    return [
      sumTo(dq, q.shape),
      sumTo(dk, k.shape),
      sumTo(dv, v.shape),
      dm && attnMask ? sumTo(dm, attnMask.shape) : null,
    ]
  })
}

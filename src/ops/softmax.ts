// softmax and logSoftmax along a dim, and dropout, on native kernels. The softmax kernels
// see a contiguous [outer, K, inner] view with the softmax over K.
import { autocastFloat32 } from './autocast'
import { record } from '../autograd/node'
import { isFloating } from '../tensor/dtype'
import { drawSeed, type Generator } from '../tensor/random'
import { normalizeDim, numelOf } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { checkTensor, kernelView } from './util'

function softmaxOp(op: 'softmax' | 'logSoftmax', x: Tensor, dim: number): Tensor {
  checkTensor(op, x, 'input')
  if (!isFloating(x.dtype)) throw new Error(`${op}: input must be floating-point, got ${x.dtype}`)
  const d = normalizeDim(op, dim, x.ndim)
  const shape3 = x.ndim === 0 ? [1, 1, 1] : [numelOf(x.shape.slice(0, d)), x.shape[d], numelOf(x.shape.slice(d + 1))]
  const log = op === 'logSoftmax'
  const xv = kernelView(x, shape3)
  const out = Tensor.empty(x.shape, x.dtype, x.device)
  const outV = kernelView(out, shape3)
  x.backend.run('softmaxForward', outV, xv, log)
  xv.dispose()
  return record(op, out, [x], (g) => {
    const gx = Tensor.empty(x.shape, x.dtype, x.device)
    const views = [kernelView(gx, shape3), kernelView(g.dtype === x.dtype ? g : g.to(x.dtype), shape3)]
    x.backend.run('softmaxBackward', views[0], views[1], outV, log)
    for (const v of views) v.dispose()
    return [gx]
  })
}

/** exp(x) / sum(exp(x)) along dim (torch.softmax). */
export const softmax = (x: Tensor, dim: number): Tensor => autocastFloat32([x], (x) => softmaxOp('softmax', x, dim))
/** x - logsumexp(x) along dim, computed stably in one kernel (torch.log_softmax). */
export const logSoftmax = (x: Tensor, dim: number): Tensor =>
  autocastFloat32([x], (x) => softmaxOp('logSoftmax', x, dim))

export interface DropoutOptions {
  /** Draws the mask's seed; defaultGenerator when omitted. */
  generator?: Generator
}

/**
 * Zeroes each element with probability p and scales the rest by 1 / (1 - p) when training
 * (torch.nn.functional.dropout); the identity otherwise. The mask is a function of a seed
 * drawn from the generator, so a seeded generator reproduces it.
 */
export function dropout(x: Tensor, p = 0.5, training = true, opts: DropoutOptions = {}): Tensor {
  checkTensor('dropout', x, 'input')
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${p}`)
  if (!isFloating(x.dtype)) throw new Error(`dropout: input must be floating-point, got ${x.dtype}`)
  if (!training || p === 0) return x
  if (p === 1) return x.mul(0)
  const [lo, hi] = drawSeed(opts.generator)
  const run = (src: Tensor): Tensor => {
    const out = Tensor.empty(src.shape, src.dtype, src.device)
    const s = src.isContiguous() ? src : src.contiguous()
    src.backend.run('dropout', out, s, p, lo, hi)
    if (s !== src) s.dispose()
    return out
  }
  const out = run(x)
  // The backward is the same masked scaling of the gradient, from the same seed.
  return record('dropout', out, [x], (g) => [run(g.dtype === x.dtype ? g : g.to(x.dtype))])
}

// Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_).
import { isFloating } from '../tensor/dtype'
import { shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'

export interface ClipOptions {
  /** Throw when the total norm is NaN or infinite instead of scaling by it. */
  errorIfNonfinite?: boolean
}

/**
 * Scales the gradients of `params` in place so that their joint p-norm is at most maxNorm
 * (by maxNorm / (norm + 1e-6), only when that is below 1) and returns the norm before
 * clipping. normType: p > 0, or Infinity / 'inf' for the max-abs norm. Parameters without
 * a gradient are skipped; with none at all the norm is 0.
 */
export function clipGradNorm_(
  params: Tensor | Iterable<Tensor>,
  maxNorm: number,
  normType: number | 'inf' = 2,
  opts: ClipOptions = {},
): number {
  const fn = 'clipGradNorm_'
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm) || maxNorm < 0)
    throw new Error(`${fn}: maxNorm must be a number >= 0, got ${String(maxNorm)}`)
  const p = normType === 'inf' ? Infinity : normType
  if (typeof p !== 'number' || !(p > 0))
    throw new Error(`${fn}: normType must be > 0 or Infinity ('inf'), got ${String(normType)}`)
  const list = params instanceof Tensor ? [params] : [...params]
  const grads: Tensor[] = []
  list.forEach((param, i) => {
    if (!(param instanceof Tensor)) throw new Error(`${fn}: parameter ${i} is not a Tensor`)
    const g = param.grad
    if (!g) return
    if (g.disposed)
      throw new Error(`${fn}: the gradient of parameter ${i} (shape ${shapeStr(param.shape)}) was disposed`)
    if (!isFloating(g.dtype))
      throw new Error(`${fn}: the gradient of parameter ${i} has dtype ${g.dtype}, expected a floating-point dtype`)
    grads.push(g)
  })
  if (grads.length === 0) return 0
  // Per-tensor parts (sum |g|^p, or max |g|) in double, deterministic; the kernels need flat memory.
  const flat = grads.map((g) => (g.isContiguous() ? g : g.contiguous()))
  let total = 0
  try {
    for (const g of flat) {
      const part = g.backend.run('optimNormPow', g, p) as number
      total = p !== Infinity ? total + part : Number.isNaN(total) || Number.isNaN(part) ? NaN : Math.max(total, part)
    }
    if (p !== Infinity) total = p === 2 ? Math.sqrt(total) : p === 1 ? total : Math.pow(total, 1 / p)
    if (opts.errorIfNonfinite && !Number.isFinite(total))
      throw new Error(
        `${fn}: the total norm of order ${normType} of the gradients is non-finite (${total}), so it cannot be clipped; pass errorIfNonfinite: false to scale anyway`,
      )
    const coef = maxNorm / (total + 1e-6)
    // torch multiplies by min(coef, 1); multiplying by exactly 1 changes nothing, so skip it.
    if (Number.isNaN(coef)) {
      for (const g of grads) g.fill_(NaN) // a NaN norm poisons every gradient, as in torch
    } else if (coef < 1) {
      flat.forEach((g, i) => {
        g.backend.run('optimScale', g, coef)
        if (g !== grads[i]) grads[i].copy_(g)
      })
    }
  } finally {
    flat.forEach((g, i) => {
      if (g !== grads[i]) g.dispose()
    })
  }
  return total
}

// Argument helpers shared by the spatial ops (conv, pool, resample); internal, not exported
// from the package.
import { noGrad } from '../autograd/grad-mode'
import { Tensor } from '../tensor/tensor'
import { checkTensor } from './util'

export type Size2 = number | readonly [number, number]

/** [h, w] from a number or a pair, checked to be integers >= min. */
export function pair(op: string, name: string, v: Size2, min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : Array.isArray(v) ? [v[0], v[1]] : [NaN, NaN]
  if (
    (typeof v !== 'number' && (!Array.isArray(v) || v.length !== 2)) ||
    !p.every((n) => Number.isInteger(n) && n >= min)
  )
    throw new Error(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`)
  return p
}

/** t itself when dense, else a dense copy made outside autograd (the op records against t). */
export function dense(t: Tensor): Tensor {
  return t.isContiguous() ? t : noGrad(() => t.contiguous())
}

/** Runs a batched op on an unbatched [C, H, W] input, as PyTorch accepts; null for other inputs. */
export function unbatched(op: string, x: Tensor, run: (x4: Tensor) => Tensor): Tensor | null {
  checkTensor(op, x, 'input')
  return x.ndim === 3 ? run(x.unsqueeze(0)).squeeze(0) : null
}

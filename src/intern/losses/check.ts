// Argument checks shared by the Up-A losses, so that every loss names itself, the argument and
// the shapes when it is handed something it cannot use.
import { isFloating } from '../../tensor/dtype'
import { sameShape, shapeStr } from '../../tensor/shape'
import { Tensor } from '../../tensor/tensor'

export function checkFloatTensor(fn: string, name: string, x: unknown): Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${fn}: ${name} must be a Tensor, got ${x === null ? 'null' : typeof x}`)
  x.checkAlive(fn)
  if (!isFloating(x.dtype)) throw new Error(`${fn}: ${name} must be floating-point, got ${x.dtype}`)
  return x
}

/** A batch of feature vectors: a float [N, D] with N >= 1 and D >= 1. */
export function checkFeatures(fn: string, name: string, x: unknown): Tensor {
  const t = checkFloatTensor(fn, name, x)
  if (t.ndim !== 2) throw new Error(`${fn}: ${name} must be [N, D], got ${shapeStr(t.shape)}`)
  if (t.shape[0] === 0) throw new Error(`${fn}: ${name} is an empty batch ${shapeStr(t.shape)}`)
  if (t.shape[1] === 0) throw new Error(`${fn}: ${name} has no feature dimensions ${shapeStr(t.shape)}`)
  return t
}

/** Feature batches that pair up row by row: same shape and dtype. */
export function checkPaired(fn: string, named: Record<string, unknown>): Tensor[] {
  const entries = Object.entries(named).map(([k, v]) => [k, checkFeatures(fn, k, v)] as const)
  const [firstName, first] = entries[0]
  for (const [k, t] of entries.slice(1)) {
    if (!sameShape(t.shape, first.shape))
      throw new Error(`${fn}: ${k} ${shapeStr(t.shape)} does not match ${firstName} ${shapeStr(first.shape)}`)
    if (t.dtype !== first.dtype) throw new Error(`${fn}: ${k} is ${t.dtype} but ${firstName} is ${first.dtype}`)
  }
  return entries.map(([, t]) => t)
}

/** A learnable scalar (a 0-d or one-element tensor) of the features' dtype. */
export function checkScalar(fn: string, name: string, x: unknown, dtype: string): Tensor {
  const t = checkFloatTensor(fn, name, x)
  if (t.numel !== 1) throw new Error(`${fn}: ${name} must hold one value, got ${shapeStr(t.shape)}`)
  if (t.dtype !== dtype) throw new Error(`${fn}: ${name} is ${t.dtype} but the features are ${dtype}`)
  return t
}

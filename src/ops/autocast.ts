// The casts of mixed precision (see src/autograd/autocast-mode.ts). An op that gains from low
// precision runs its body through `autocastLow`, one that needs float32's range or
// accumulation through `autocastFloat32`; outside an autocast region both call the body as
// it is. Only float32 inputs are lowered (float64 stays, as in PyTorch) and only bfloat16
// ones widened. The casts are differentiable, so a float32 parameter gets a float32 gradient.
import { autocastDType } from '../autograd/autocast-mode'
import type { DType } from '../tensor/dtype'
import { Tensor } from '../tensor/tensor'
import { to } from './views'

type Input = Tensor | null | undefined

function castAndRun<A extends Input[], R>(from: DType, into: DType, inputs: A, body: (...inputs: A) => R): R {
  const casts: Tensor[] = []
  const cast = inputs.map((t) => {
    if (!(t instanceof Tensor) || t.dtype !== from) return t
    const c = to(t, into)
    casts.push(c)
    return c
  }) as A
  const result = body(...cast)
  // Without a graph to keep them for the backward pass, the casts are done with.
  const kept = result instanceof Tensor && result.requiresGrad
  if (!kept) for (const c of casts) if (c !== result) c.dispose()
  return result
}

/** Runs an op's body with its float32 inputs in the autocast dtype (matmul, conv, attention). */
export function autocastLow<A extends Input[], R>(inputs: [...A], body: (...inputs: A) => R): R {
  const low = autocastDType()
  return low === null ? body(...inputs) : castAndRun('float32', low, inputs, body)
}

/** Runs an op's body with its low-precision inputs widened to float32 (norms, softmax, losses, sums). */
export function autocastFloat32<A extends Input[], R>(inputs: [...A], body: (...inputs: A) => R): R {
  const low = autocastDType()
  return low === null ? body(...inputs) : castAndRun(low, 'float32', inputs, body)
}

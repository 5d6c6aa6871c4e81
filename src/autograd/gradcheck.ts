// Checks an op's backward against central finite differences in float64. The output is
// projected on a fixed random vector v, so one backward gives v^T J, compared with the
// numerical derivative of v^T f(x) for every input element.
import { noGrad } from './grad-mode'
import { hostView as cpuView } from '../backend/cpu'
import { Generator } from '../tensor/random'
import { Tensor } from '../tensor/tensor'
import { tensor } from '../tensor/creation'

export interface GradcheckOptions {
  eps?: number
  atol?: number
  rtol?: number
  seed?: number
}

function hostView(t: Tensor): Float64Array {
  if (t.device !== 'cpu' || !t.isContiguous()) throw new Error('gradcheck: inputs must be contiguous CPU tensors')
  return cpuView(t) as Float64Array
}

function project(out: Tensor, v: Tensor): number {
  return out.to('float64').mul(v).sum().item()
}

/**
 * Throws an Error naming the input, element and both values at the first mismatch; returns
 * true when every input that requires grad matches. fn must be deterministic.
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): true {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3, seed = 0 } = opts
  inputs.forEach((x, i) => {
    if (x.dtype !== 'float64' && x.requiresGrad)
      throw new Error(`gradcheck: input ${i} is ${x.dtype}; use float64 inputs`)
  })
  const out = fn(...inputs)
  if (!out.requiresGrad)
    throw new Error('gradcheck: the output does not require grad (no input with requiresGrad reached it)')
  const g = new Generator(seed)
  const vData = new Float64Array(out.numel).map(() => g.normal())
  const v = tensor(vData, { shape: out.shape, dtype: 'float64' })
  for (const x of inputs) x.grad = null
  out.backward(v.to(out.dtype))
  inputs.forEach((x, i) => {
    if (!x.requiresGrad) return
    const analytic = x.grad ? x.grad.data() : new Float64Array(x.numel)
    const values = hostView(x)
    for (let j = 0; j < values.length; j++) {
      const orig = values[j]
      values[j] = orig + eps
      const plus = noGrad(() => project(fn(...inputs), v))
      values[j] = orig - eps
      const minus = noGrad(() => project(fn(...inputs), v))
      values[j] = orig
      const numeric = (plus - minus) / (2 * eps)
      const a = analytic[j]
      if (!(Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric)))
        throw new Error(
          `gradcheck: input ${i} (shape [${x.shape.join(', ')}]) element ${j}: analytical ${a} vs numerical ${numeric}`,
        )
    }
  })
  return true
}

// CUDA against the CPU backend: one computation on host tensors and on their device copies,
// compared by relative norm error (||got - ref|| / ||ref||; NaN and infinities only where the
// reference has them; integers and bools exactly). The tolerances are the GPU check's
// (bench/gpu/check.sh): float32 1e-5, float64 1e-12. Every test/cuda/<family>.test.ts skips,
// with the loader's reason, where no GPU is present.
import type { Test } from 'tap'
import * as iv from '../../src'
import type { Tensor } from '../../src'

export const noGpu: string | false = iv.cuda.isAvailable()
  ? false
  : `CUDA is not available: ${iv.cuda.unavailableReason()}`

export const FLOATS = ['float32', 'float64'] as const
export type Float = (typeof FLOATS)[number]
export const TOL: Record<Float, number> = { float32: 1e-5, float64: 1e-12 }

/** Norm-relative error of a device result against a host reference (Infinity on a shape or non-finite mismatch). */
export function relativeError(got: Tensor, ref: Tensor): number {
  if (got.shape.join() !== ref.shape.join() || got.dtype !== ref.dtype) return Infinity
  const g = got.cpu().data()
  const r = ref.data()
  if (ref.dtype !== 'float32' && ref.dtype !== 'float64') {
    for (let i = 0; i < r.length; i++) if (g[i] !== r[i]) return Infinity
    return 0
  }
  let diff = 0
  let norm = 0
  for (let i = 0; i < r.length; i++) {
    const a = Number(g[i])
    const b = Number(r[i])
    if (!Number.isFinite(b)) {
      if (!Object.is(a, b) && !(Number.isNaN(a) && Number.isNaN(b))) return Infinity
      continue
    }
    if (!Number.isFinite(a)) return Infinity
    diff += (a - b) * (a - b)
    norm += b * b
  }
  return norm > 0 ? Math.sqrt(diff / norm) : Math.sqrt(diff)
}

export function assertParity(t: Test, name: string, got: Tensor, ref: Tensor, tol = TOL[ref.dtype as Float] ?? 0) {
  const err = relativeError(got, ref)
  t.ok(err <= tol, `${name}: relative error ${err} (tolerance ${tol})`)
}

/**
 * Runs `fn` on `inputs` and on their device copies; inputs marked in `grad` become leaves
 * that require grad, and the sum of the squared outputs is backpropagated. Compares every
 * output and every such gradient.
 */
export function checkBoth(
  t: Test,
  name: string,
  inputs: Tensor[],
  fn: (...xs: Tensor[]) => Tensor | Tensor[],
  grad: boolean[] = [],
): void {
  const run = (device: 'cpu' | 'cuda') => {
    const xs = inputs.map((x, i) => {
      const d = device === 'cpu' ? x.detach() : x.cuda()
      return grad[i] ? d.requiresGrad_() : d
    })
    const out = ([] as Tensor[]).concat(fn(...xs))
    if (grad.some(Boolean)) {
      let loss = out[0].mul(out[0]).sum()
      for (const o of out.slice(1)) if (o.dtype === out[0].dtype) loss = loss.add(o.mul(o).sum())
      loss.backward()
    }
    return { out, grads: xs.filter((_, i) => grad[i]).map((x) => x.grad as Tensor) }
  }
  const ref = run('cpu')
  const got = run('cuda')
  ref.out.forEach((r, i) => assertParity(t, `${name} output ${i}`, got.out[i], r))
  ref.grads.forEach((r, i) => assertParity(t, `${name} gradient ${i}`, got.grads[i], r))
}

/** Random input of a float dtype; a few NaNs when `nan` (NaN propagation must match). */
export function rnd(shape: number[], dtype: Float, nan = false): Tensor {
  const x = iv.randn(shape, { dtype })
  if (!nan) return x
  const d = x.data()
  for (let i = 1; i < d.length; i += 97) d[i] = NaN
  return iv.tensor(d, { shape, dtype })
}

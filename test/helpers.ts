// Shared test helpers: closeness with a clear message, and float64 random leaves.
import type { Test } from 'tap'
import { randn, type Tensor } from '../src'

export function assertClose(
  t: Test,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-5,
  atol = 1e-6,
  msg = '',
): void {
  if (actual.length !== expected.length) {
    t.fail(`${msg} length ${actual.length} != ${expected.length}`)
    return
  }
  let worst = 0
  let at = -1
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]
    const e = expected[i]
    if (Number.isNaN(e) && Number.isNaN(a)) continue
    const err = Math.abs(a - e) - rtol * Math.abs(e)
    if (!(err <= atol) && (at < 0 || err > worst)) {
      worst = err
      at = i
    }
  }
  if (at >= 0) t.fail(`${msg} element ${at}: ${actual[at]} vs expected ${expected[at]}`)
  else t.pass(`${msg} close`)
}

/** A float64 leaf that requires grad, away from zero when `positive`. */
export function leaf(shape: number[], positive = false): Tensor {
  const x = randn(shape, { dtype: 'float64' })
  const v = positive ? x.abs().add(0.5) : x
  return v.requiresGrad_(true)
}

// Shared test helpers: closeness with a clear message, float64 random leaves, and a garbage
// collection on demand for tests that count live memory.
import type { Test } from 'tap'
import * as v8 from 'node:v8'
import * as vm from 'node:vm'
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

/** Runs full garbage collections now, so that tensors an earlier test dropped without disposing
 * leave memoryStats() before a count is taken, not in the middle of a measurement. V8 frees the
 * buffers a collection found dead on a background thread after it returns; the next collection
 * waits for that, hence two. Enables --expose-gc for this process if needed. */
export function collectGarbage(): void {
  let gc = globalThis.gc as (() => void) | undefined
  if (!gc) {
    v8.setFlagsFromString('--expose-gc')
    gc = vm.runInNewContext('gc') as () => void
  }
  gc()
  gc()
}

// Monocular depth metrics (Eigen et al.'s set) over the pixels where depth was measured.
import { pairImages, type PooledValues } from './check'

export interface DepthMetrics {
  /** Root mean squared error, in the target's unit (metres in GV-D); lower is better. */
  rmse: number
  /** Mean of |pred - target| / target; lower is better. */
  absRel: number
  /** Fraction of pixels with max(pred / target, target / pred) < 1.25; higher is better. */
  delta1: number
}

/**
 * RMSE, absolute relative error and delta < 1.25 over the pixels whose `valid` flag is non-zero,
 * pooled over all images (every valid pixel weighs the same, rather than every image). Valid
 * targets must be positive; a prediction <= 0 is allowed and fails the delta test.
 * Each argument is one image's H*W array or a list of per-image arrays.
 */
export function depthMetrics(pred: PooledValues, target: PooledValues, valid: PooledValues): DepthMetrics {
  const fn = 'depthMetrics'
  const images = pairImages(fn, ['pred', 'target'], pred, target)
  const masks = pairImages(fn, ['target', 'valid'], target, valid).map(([, v]) => v)
  let squared = 0
  let relative = 0
  let within = 0
  let n = 0
  images.forEach(([p, t, where], image) => {
    const v = masks[image]
    for (let i = 0; i < t.length; i++) {
      if (!v[i]) continue
      const d = t[i]
      if (!(d > 0) || !Number.isFinite(d))
        throw new Error(`${fn}: target${where}[${i}] = ${d} at a valid pixel; valid depths must be positive`)
      const e = p[i]
      if (!Number.isFinite(e))
        throw new Error(`${fn}: pred${where}[${i}] is ${e} at a valid pixel; expected a finite number`)
      squared += (e - d) * (e - d)
      relative += Math.abs(e - d) / d
      if (e > 0 && Math.max(e / d, d / e) < 1.25) within++
      n++
    }
  })
  if (n === 0) throw new Error(`${fn}: no valid pixels; the metrics are undefined`)
  return { rmse: Math.sqrt(squared / n), absRel: relative / n, delta1: within / n }
}

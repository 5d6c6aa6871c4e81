// Whether mixed precision is on (torch.autocast): the mode lives beside grad mode so that the
// backward engine can turn it off (a backward pass computes in the dtypes its forward chose).
// The casts themselves are the ops' business (src/ops/autocast.ts).

export type AutocastDType = 'bfloat16'

let active: AutocastDType | null = null

/** The low-precision dtype of the autocast region we are in, or null outside one. */
export function autocastDType(): AutocastDType | null {
  return active
}

export function isAutocastEnabled(): boolean {
  return active !== null
}

/**
 * Runs fn under mixed precision (torch.autocast): matmul, linear, conv and attention compute
 * in `dtype`, norms, softmax, losses and sums in float32; float32 parameters stay float32 and
 * get float32 gradients. `enabled: false` turns it off inside an outer region. fn must finish
 * before autocast returns (like noGrad, the mode does not follow awaits).
 */
export function autocast<T>(dtype: AutocastDType, fn: () => T, opts: { enabled?: boolean } = {}): T {
  if (dtype !== 'bfloat16')
    throw new Error(`autocast: unsupported dtype ${JSON.stringify(dtype)} (this engine autocasts to bfloat16)`)
  if (typeof fn !== 'function') throw new Error('autocast: expected a function to run')
  const prev = active
  active = opts.enabled === false ? null : dtype
  try {
    return fn()
  } finally {
    active = prev
  }
}

/** Runs fn with autocast off (the backward engine's view). */
export function withoutAutocast<T>(fn: () => T): T {
  const prev = active
  active = null
  try {
    return fn()
  } finally {
    active = prev
  }
}

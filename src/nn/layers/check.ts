// Argument checks shared by the layer constructors.

export function checkPositiveInt(layer: string, arg: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new Error(`${layer}: ${arg} must be an integer >= ${min}, got ${JSON.stringify(v)}`)
  return v
}

export function checkProbability(layer: string, arg: string, p: unknown): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1))
    throw new Error(`${layer}: ${arg} must be a probability in [0, 1], got ${JSON.stringify(p)}`)
  return p
}

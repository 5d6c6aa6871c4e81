// Argument checks shared by the metrics: every bad input becomes an Error that names the metric,
// the argument and the offending index or shape, never a silently wrong score.

/** A flat array of numbers: a typed array or a plain array. */
export type Values = ArrayLike<number>

/** Values of one image, or a list of per-image arrays that the metric pools. */
export type PooledValues = Values | readonly Values[]

export function checkNumClasses(fn: string, numClasses: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`${fn}: numClasses must be a positive integer, got ${numClasses}`)
  }
}

export function checkSameLength(fn: string, names: [string, string], a: Values, b: Values, where = ''): void {
  if (a.length !== b.length) {
    throw new Error(`${fn}: ${names[0]}${where} has ${a.length} values but ${names[1]}${where} has ${b.length}`)
  }
}

export function checkNotEmpty(fn: string, name: string, n: number): void {
  if (n === 0) throw new Error(`${fn}: ${name} is empty; the metric is undefined without samples`)
}

/** values[i] must be a class index in [0, numClasses), or `ignoreIndex` when one is given. */
export function checkClassIndices(
  fn: string,
  name: string,
  values: Values,
  numClasses: number,
  ignoreIndex?: number,
): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (Number.isInteger(v) && v >= 0 && v < numClasses) continue
    if (ignoreIndex !== undefined && v === ignoreIndex) continue
    const allowed = ignoreIndex === undefined ? '' : ` (or the ignore index ${ignoreIndex})`
    throw new Error(`${fn}: ${name}[${i}] = ${v} is not a class index in [0, ${numClasses})${allowed}`)
  }
}

export function checkFinite(fn: string, name: string, values: Values): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new Error(`${fn}: ${name}[${i}] is ${values[i]}; expected a finite number`)
  }
}

/** Splits pooled input into per-image arrays: a single array is one image. */
export function asImages(values: PooledValues): readonly Values[] {
  const isList = Array.isArray(values) && values.length > 0 && typeof values[0] !== 'number'
  return isList ? (values as readonly Values[]) : [values as Values]
}

/** Pairs the per-image arrays of two pooled inputs, checking counts and lengths. */
export function pairImages(
  fn: string,
  names: [string, string],
  a: PooledValues,
  b: PooledValues,
): [Values, Values, string][] {
  const as = asImages(a)
  const bs = asImages(b)
  if (as.length !== bs.length)
    throw new Error(`${fn}: ${names[0]} holds ${as.length} images but ${names[1]} holds ${bs.length}`)
  return as.map((x, i) => {
    const where = as.length > 1 ? `[${i}]` : ''
    checkSameLength(fn, names, x, bs[i], where)
    return [x, bs[i], where]
  })
}

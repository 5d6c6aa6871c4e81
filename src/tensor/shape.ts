// Shape arithmetic shared by the ops: broadcasting, strides, dim normalisation.

export function numelOf(shape: readonly number[]): number {
  let n = 1
  for (const s of shape) n *= s
  return n
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length)
  let s = 1
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s
    s *= shape[i]
  }
  return strides
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i])
}

export function broadcastShapes(op: string, ...shapes: (readonly number[])[]): number[] {
  if (shapes.length === 2 && sameShape(shapes[0], shapes[1])) return [...shapes[0]]
  const ndim = Math.max(...shapes.map((s) => s.length))
  const out = new Array<number>(ndim).fill(1)
  for (const shape of shapes) {
    for (let i = 0; i < shape.length; i++) {
      const d = ndim - shape.length + i
      const s = shape[i]
      if (s === out[d] || s === 1) continue
      if (out[d] === 1) out[d] = s
      else throw new Error(`${op}: shapes ${shapes.map(shapeStr).join(' and ')} cannot be broadcast together`)
    }
  }
  return out
}

export function normalizeDim(op: string, dim: number, ndim: number, arg = 'dim'): number {
  const lo = ndim === 0 ? -1 : -ndim
  const hi = ndim === 0 ? 0 : ndim - 1
  if (!Number.isInteger(dim) || dim < lo || dim > hi)
    throw new Error(`${op}: ${arg} ${dim} is out of range for a tensor of ${ndim} dims (expected ${lo}..${hi})`)
  return dim < 0 ? dim + Math.max(ndim, 1) : dim
}

export function normalizeDims(op: string, dims: number | readonly number[] | undefined, ndim: number): number[] {
  if (dims === undefined) return [...Array(ndim).keys()]
  const list = typeof dims === 'number' ? [dims] : [...dims]
  const out = list.map((d) => normalizeDim(op, d, ndim))
  if (new Set(out).size !== out.length) throw new Error(`${op}: dim ${JSON.stringify(dims)} repeats a dimension`)
  return out.sort((a, b) => a - b)
}

export function checkShape(op: string, shape: readonly number[], arg = 'shape'): number[] {
  if (!Array.isArray(shape)) throw new Error(`${op}: ${arg} must be an array of sizes, got ${String(shape)}`)
  for (const s of shape)
    if (!Number.isInteger(s) || s < 0) throw new Error(`${op}: ${arg} ${shapeStr(shape)} has an invalid size ${s}`)
  return [...shape]
}

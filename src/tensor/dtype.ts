export type DType = 'float32' | 'float64' | 'bfloat16' | 'int32' | 'uint8' | 'bool'
export type Device = 'cpu' | 'cuda'

/** Host element arrays; Uint16Array holds bfloat16's raw bits (the backend's view only). */
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array

export const dtypeBytes: Record<DType, number> = { float32: 4, float64: 8, bfloat16: 2, int32: 4, uint8: 1, bool: 1 }

export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32'
  if (a instanceof Float64Array) return 'float64'
  if (a instanceof Int32Array) return 'int32'
  if (a instanceof Uint8Array) return 'uint8'
  throw new Error(
    `tensor: unsupported array type ${(a as object).constructor.name} (expected Float32Array, ` +
      'Float64Array, Int32Array or Uint8Array)',
  )
}

export const isFloating = (d: DType): boolean => d === 'float32' || d === 'float64' || d === 'bfloat16'

const rank: Record<DType, number> = { bool: 0, uint8: 1, int32: 2, bfloat16: 3, float32: 4, float64: 5 }

/** PyTorch's promotion between two tensors' dtypes. */
export function promoteTypes(a: DType, b: DType): DType {
  // Equal dtypes first: the table lookup with a varying key is a megamorphic load.
  if (a === b) return a
  return rank[a] >= rank[b] ? a : b
}

const category: Record<DType, number> = { bool: 0, uint8: 1, int32: 1, bfloat16: 2, float32: 2, float64: 2 }

/**
 * PyTorch's result type of two tensors: when one is 0-dim and the other is not, the 0-dim one
 * widens the result only if it is of a higher category (bool < integer < floating), so
 * float32 [n] + float64 [] is float32 but int32 [n] + float64 [] is float64.
 */
export function promoteTensorTypes(a: { dtype: DType; ndim: number }, b: { dtype: DType; ndim: number }): DType {
  if (a.dtype === b.dtype) return a.dtype
  if ((a.ndim === 0) === (b.ndim === 0)) return promoteTypes(a.dtype, b.dtype)
  const [dim, zero] = a.ndim === 0 ? [b.dtype, a.dtype] : [a.dtype, b.dtype]
  return category[zero] > category[dim] ? promoteTypes(dim, zero) : dim
}

/** PyTorch's promotion of a tensor with a JS number: a number never widens a float tensor. */
export function promoteWithScalar(t: DType, value: number): DType {
  if (isFloating(t)) return t
  if (!Number.isInteger(value)) return 'float32'
  return t === 'bool' ? 'int32' : t
}

export function checkDType(op: string, dtype: unknown): DType {
  if (typeof dtype === 'string' && Object.hasOwn(dtypeBytes, dtype)) return dtype as DType
  throw new Error(
    `${op}: unknown dtype ${JSON.stringify(dtype)} (expected float32, float64, bfloat16, int32, uint8 or bool)`,
  )
}

// How each dtype's elements sit in memory: the code the addon reads and the typed array that
// reads them on the host.
import type { DType, TypedArray } from '../tensor/dtype'

/** Codes shared with the native addon (native/binding/args.h). */
export const dtypeCode: Record<DType, number> = { float32: 0, float64: 1, int32: 2, uint8: 3, bool: 4, bfloat16: 5 }

const arrayTypes = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  bfloat16: Uint16Array, // raw bits: the tensor layer widens them for users
} as const

export function typedArrayFor(dtype: DType, buffer: ArrayBuffer, byteOffset: number, length: number): TypedArray {
  return new arrayTypes[dtype](buffer, byteOffset, length)
}

export function newTypedArray(dtype: DType, length: number): TypedArray {
  return new arrayTypes[dtype](length)
}

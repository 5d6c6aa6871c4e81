// bfloat16 operands for the benches, made in addon storage and passed to the native entry
// points as descriptors (the TypeScript tensors do not carry the dtype yet): random normal
// values rounded to bfloat16, or uninitialised outputs.
import { native, type Descriptor } from '../src/backend/native'

const BFLOAT16 = 5

export function bfloat16Empty(shape: number[]): Descriptor {
  const n = shape.reduce((a, b) => a * b, 1)
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1))
  return [native.alloc(2 * n + 64), 0, shape, strides, BFLOAT16]
}

export function bfloat16Randn(shape: number[]): Descriptor {
  const d = bfloat16Empty(shape)
  const n = shape.reduce((a, b) => a * b, 1)
  const bits = new Uint16Array(d[0], native.alignedOffset(d[0]), n)
  const f = new Float32Array(1)
  const u = new Uint32Array(f.buffer)
  for (let i = 0; i < n; i++) {
    f[0] = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random())
    bits[i] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16
  }
  return d
}

export function freeStorage(...ds: (Descriptor | null)[]): void {
  for (const d of ds) if (d) native.free(d[0])
}

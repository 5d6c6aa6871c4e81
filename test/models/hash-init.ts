// Deterministic weights from a hash of each tensor's name, bit-identical to the fixture
// script's hash_init (scripts/fixtures/models.py): lowbias32(fnv1a(name) + i), 24 bits per
// value, mapped in float64 and rounded once to float32. It lets the parity test use the same
// weights as PyTorch without storing them (ResNet-18 alone is 45 MB).
import { noGrad } from '../../src/autograd/grad-mode'
import { tensor } from '../../src/tensor/creation'
import type { Module } from '../../src/nn'

function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (const b of Buffer.from(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0
  return h
}

/** The raw 32-bit hashes and the uniforms in [0, 1) for `key`. */
export function hashUniform(key: string, n: number): { bits: Uint32Array; u: Float64Array } {
  const base = fnv1a(key)
  const bits = new Uint32Array(n)
  const u = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    let x = (base + i) >>> 0
    x ^= x >>> 16
    x = Math.imul(x, 0x7feb352d) >>> 0
    x ^= x >>> 15
    x = Math.imul(x, 0x846ca68b) >>> 0
    x ^= x >>> 16
    bits[i] = x >>> 0
    u[i] = (x >>> 8) / 16777216
  }
  return { bits, u }
}

/** The interval a tensor is drawn from: the same rules as init_range in the fixture script. */
function initRange(name: string, shape: number[]): [number, number] {
  const last = name.slice(name.lastIndexOf('.') + 1)
  if (last === 'running_var' || last === 'temperature' || last.startsWith('gamma_')) return [0.5, 1.5]
  if (last === 'running_mean') return [-0.2, 0.2]
  if (shape.length >= 2) {
    const b = shape.slice(1).reduce((a, s) => a * s, 1) ** -0.5
    return [-b, b]
  }
  return last === 'weight' ? [0.5, 1.5] : [-0.5, 0.5]
}

/** Fills every floating-point parameter and buffer of `model` by its state-dict name. */
export function hashInit(model: Module): void {
  noGrad(() => {
    for (const [name, t] of Object.entries(model.stateDict())) {
      if (t.dtype !== 'float32') continue
      const [lo, hi] = initRange(name, t.shape)
      const { u } = hashUniform(name, t.numel)
      const v = new Float32Array(t.numel)
      for (let i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * u[i]
      t.copy_(tensor(v, { shape: t.shape }))
    }
  })
}

// Visual domains: the same scenes seen through different "cameras". The downstream benchmark
// holds some out, so a model trained on clean renders meets noise, blur, sketches, colour shifts
// and real textures only at adaptation time. Ground truth never changes with the domain.

import type { Rng } from '../rng'
import type { ImageCHW } from '../types'
import { clamp01 } from './render'

export const WORLD_DOMAINS = ['clean', 'noisy', 'blurred', 'lowContrast', 'sketch', 'colourShift', 'fashion'] as const
export type WorldDomain = (typeof WORLD_DOMAINS)[number]

/** Applies a domain's pixel effect in place ('fashion' changes textures at render time instead). */
export function applyDomain(image: ImageCHW, domain: WorldDomain, rng: Rng): void {
  const { data, height: H, width: W } = image
  const plane = H * W
  switch (domain) {
    case 'clean':
    case 'fashion':
      return
    case 'noisy': {
      const sigma = rng.uniform(0.06, 0.15)
      for (let i = 0; i < data.length; i++) data[i] = clamp01(data[i] + sigma * rng.normal())
      return
    }
    case 'blurred': {
      const radius = Math.max(1, Math.round(Math.min(H, W) / 40))
      // Two box passes approximate a Gaussian.
      for (let c = 0; c < 3; c++) {
        const ch = data.subarray(c * plane, (c + 1) * plane)
        for (let pass = 0; pass < 2; pass++) boxBlur(ch, H, W, radius)
      }
      return
    }
    case 'lowContrast': {
      const contrast = rng.uniform(0.2, 0.4)
      const level = rng.uniform(0.35, 0.65)
      let mean = 0
      for (let i = 0; i < data.length; i++) mean += data[i]
      mean /= data.length
      for (let i = 0; i < data.length; i++) data[i] = clamp01(level + (data[i] - mean) * contrast)
      return
    }
    case 'sketch': {
      const lum = new Float32Array(plane)
      for (let p = 0; p < plane; p++) {
        lum[p] = 0.299 * data[p] + 0.587 * data[plane + p] + 0.114 * data[2 * plane + p]
      }
      const paper = [rng.uniform(0.9, 1), rng.uniform(0.88, 0.98), rng.uniform(0.82, 0.95)]
      const ink = rng.uniform(0.05, 0.25)
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const at = (yy: number, xx: number): number =>
            lum[Math.min(H - 1, Math.max(0, yy)) * W + Math.min(W - 1, Math.max(0, xx))]
          const gx =
            at(y - 1, x + 1) +
            2 * at(y, x + 1) +
            at(y + 1, x + 1) -
            at(y - 1, x - 1) -
            2 * at(y, x - 1) -
            at(y + 1, x - 1)
          const gy =
            at(y + 1, x - 1) +
            2 * at(y + 1, x) +
            at(y + 1, x + 1) -
            at(y - 1, x - 1) -
            2 * at(y - 1, x) -
            at(y - 1, x + 1)
          const edge = clamp01(1.6 * Math.sqrt(gx * gx + gy * gy))
          const p = y * W + x
          for (let c = 0; c < 3; c++) data[c * plane + p] = paper[c] * (1 - edge) + ink * edge
        }
      }
      return
    }
    case 'colourShift': {
      // Rotate hue about the grey axis, then tint: colour words no longer match pixel colours.
      const angle = rng.uniform(Math.PI / 2, (3 * Math.PI) / 2)
      const cosA = Math.cos(angle)
      const sinA = Math.sin(angle)
      const k = (1 - cosA) / 3
      const s = Math.sqrt(1 / 3) * sinA
      const m = [cosA + k, k - s, k + s, k + s, cosA + k, k - s, k - s, k + s, cosA + k]
      const tint = [rng.uniform(0.85, 1.15), rng.uniform(0.85, 1.15), rng.uniform(0.85, 1.15)]
      for (let p = 0; p < plane; p++) {
        const r = data[p]
        const g = data[plane + p]
        const b = data[2 * plane + p]
        for (let c = 0; c < 3; c++) {
          data[c * plane + p] = clamp01(tint[c] * (m[3 * c] * r + m[3 * c + 1] * g + m[3 * c + 2] * b))
        }
      }
      return
    }
  }
}

function boxBlur(ch: Float32Array, H: number, W: number, r: number): void {
  const tmp = new Float32Array(ch.length)
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let s = 0
      for (let d = -r; d <= r; d++) s += ch[y * W + Math.min(W - 1, Math.max(0, x + d))]
      tmp[y * W + x] = s / (2 * r + 1)
    }
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let s = 0
      for (let d = -r; d <= r; d++) s += tmp[Math.min(H - 1, Math.max(0, y + d)) * W + x]
      ch[y * W + x] = s / (2 * r + 1)
    }
  }
}

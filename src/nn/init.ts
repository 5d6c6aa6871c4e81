// Weight initialisation, in place (torch.nn.init). Values are drawn on the host from a
// Generator (the default one unless given), so `manualSeed(s)` reproduces a model exactly.
import { tensor } from '../tensor/creation'
import { hostView } from '../backend/cpu'
import { newTypedArray } from '../backend/element-types'
import { isFloating } from '../tensor/dtype'
import { defaultGenerator, type Generator } from '../tensor/random'
import { shapeStr } from '../tensor/shape'
import type { Tensor } from '../tensor/tensor'

export interface InitOptions {
  generator?: Generator
}

export type Nonlinearity =
  | 'linear'
  | 'conv1d'
  | 'conv2d'
  | 'conv3d'
  | 'convTranspose2d'
  | 'sigmoid'
  | 'tanh'
  | 'relu'
  | 'leakyRelu'
  | 'leaky_relu'
  | 'selu'

export type FanMode = 'fanIn' | 'fanOut'

/** Writes draw() into every element of t, in row-major order. */
function fill<T extends Tensor>(op: string, t: T, draw: () => number): T {
  t.checkAlive(op)
  if (!isFloating(t.dtype)) throw new Error(`${op}: expected a floating-point tensor, got ${t.dtype}`)
  const n = t.numel
  if (t.device === 'cpu' && t.isContiguous()) {
    const dst = hostView(t)
    for (let i = 0; i < n; i++) dst[i] = draw()
    return t
  }
  const host = newTypedArray(t.dtype, n)
  for (let i = 0; i < n; i++) host[i] = draw()
  const src = tensor(host, { shape: t.shape, dtype: t.dtype, device: t.device })
  t.copy_(src)
  src.dispose()
  return t
}

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'convTranspose2d':
    case 'sigmoid':
      return 1
    case 'tanh':
      return 5 / 3
    case 'relu':
      return Math.SQRT2
    case 'leakyRelu':
    case 'leaky_relu': {
      const slope = param ?? 0.01
      if (!Number.isFinite(slope)) throw new Error(`calculateGain: negative slope ${param} is not a number`)
      return Math.sqrt(2 / (1 + slope * slope))
    }
    case 'selu':
      return 3 / 4
    default:
      throw new Error(`calculateGain: unsupported nonlinearity '${String(nonlinearity)}'`)
  }
}

/** fanIn = size(1) * receptive field, fanOut = size(0) * receptive field, as torch computes them. */
export function calculateFanInAndFanOut(t: Tensor, op = 'calculateFanInAndFanOut'): { fanIn: number; fanOut: number } {
  if (t.ndim < 2)
    throw new Error(`${op}: fan in and fan out need a tensor of at least 2 dims, got shape ${shapeStr(t.shape)}`)
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1)
  return { fanIn: t.shape[1] * receptive, fanOut: t.shape[0] * receptive }
}

export function uniform_<T extends Tensor>(t: T, a = 0, b = 1, opts: InitOptions = {}): T {
  if (!(a <= b)) throw new Error(`uniform_: expected a <= b, got a=${a}, b=${b}`)
  const g = opts.generator ?? defaultGenerator
  return fill('uniform_', t, () => a + (b - a) * g.random())
}

export function normal_<T extends Tensor>(t: T, mean = 0, std = 1, opts: InitOptions = {}): T {
  if (!(std >= 0)) throw new Error(`normal_: std must be non-negative, got ${std}`)
  const g = opts.generator ?? defaultGenerator
  return fill('normal_', t, () => mean + std * g.normal())
}

export function constant_<T extends Tensor>(t: T, value: number): T {
  t.checkAlive('constant_')
  return t.fill_(value)
}

export const zeros_ = <T extends Tensor>(t: T): T => constant_(t, 0)
export const ones_ = <T extends Tensor>(t: T): T => constant_(t, 1)

/** U(-a, a) with a = gain * sqrt(6 / (fanIn + fanOut)) (Glorot & Bengio). */
export function xavierUniform_<T extends Tensor>(t: T, gain = 1, opts: InitOptions = {}): T {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t, 'xavierUniform_')
  const a = gain * Math.sqrt(6 / (fanIn + fanOut))
  return uniform_(t, -a, a, opts)
}

export function xavierNormal_<T extends Tensor>(t: T, gain = 1, opts: InitOptions = {}): T {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t, 'xavierNormal_')
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), opts)
}

export interface KaimingOptions extends InitOptions {
  /** The negative slope of the rectifier after this layer (leakyRelu only). */
  a?: number
  mode?: FanMode
  nonlinearity?: Nonlinearity
}

function kaimingStd(op: string, t: Tensor, opts: KaimingOptions): number {
  const mode = opts.mode ?? 'fanIn'
  if (mode !== 'fanIn' && mode !== 'fanOut')
    throw new Error(`${op}: mode must be 'fanIn' or 'fanOut', got '${String(mode)}'`)
  const fans = calculateFanInAndFanOut(t, op)
  const fan = mode === 'fanIn' ? fans.fanIn : fans.fanOut
  if (fan === 0)
    throw new Error(`${op}: cannot initialise a tensor with zero elements in its fan (shape ${shapeStr(t.shape)})`)
  return calculateGain(opts.nonlinearity ?? 'leakyRelu', opts.a ?? 0) / Math.sqrt(fan)
}

/** U(-b, b) with b = gain * sqrt(3 / fan) (He et al.); torch's default for Linear and Conv uses a = sqrt(5). */
export function kaimingUniform_<T extends Tensor>(t: T, opts: KaimingOptions = {}): T {
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform_', t, opts)
  return uniform_(t, -bound, bound, opts)
}

export function kaimingNormal_<T extends Tensor>(t: T, opts: KaimingOptions = {}): T {
  return normal_(t, 0, kaimingStd('kaimingNormal_', t, opts), opts)
}

/**
 * N(mean, std) truncated to [a, b] (absolute bounds, as in torch), drawn by inverting the
 * normal CDF on the truncated range: exact in distribution and never loops, however narrow
 * or far out the range.
 */
export function truncNormal_<T extends Tensor>(t: T, mean = 0, std = 1, a = -2, b = 2, opts: InitOptions = {}): T {
  if (!(std > 0) || !(a < b)) throw new Error(`truncNormal_: need std > 0 and a < b, got std=${std}, a=${a}, b=${b}`)
  const g = opts.generator ?? defaultGenerator
  const lo = normalCdf((a - mean) / std)
  const hi = normalCdf((b - mean) / std)
  return fill('truncNormal_', t, () => {
    const x = mean + std * normalQuantile(lo + (hi - lo) * g.random())
    return Math.min(Math.max(x, a), b)
  })
}

/** Φ(x) via erfc (Numerical Recipes' Chebyshev fit, relative error below 1.2e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2
  const t = 1 / (1 + 0.5 * z)
  const erfc =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    )
  return x >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc
}

// Acklam's coefficients, made once: truncNormal_ calls normalQuantile for every element.
const qa = [
  -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1,
  2.506628277459239,
]
const qb = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1]
const qc = [
  -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
]
const qd = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416]
const tail = (q: number) =>
  (((((qc[0] * q + qc[1]) * q + qc[2]) * q + qc[3]) * q + qc[4]) * q + qc[5]) /
  ((((qd[0] * q + qd[1]) * q + qd[2]) * q + qd[3]) * q + 1)

/** Φ⁻¹(p) (Acklam's rational approximation, relative error below 1.2e-9). */
function normalQuantile(p: number): number {
  if (p <= 0) return -Infinity
  if (p >= 1) return Infinity
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)))
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)))
  const q = p - 0.5
  const r = q * q
  return (
    ((((((qa[0] * r + qa[1]) * r + qa[2]) * r + qa[3]) * r + qa[4]) * r + qa[5]) * q) /
    (((((qb[0] * r + qb[1]) * r + qb[2]) * r + qb[3]) * r + qb[4]) * r + 1)
  )
}

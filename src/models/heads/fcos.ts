// The FCOS head (Tian et al. 2019): anchor-free, one prediction per feature-map location. Two
// towers of 3x3 conv + GroupNorm + ReLU shared across levels; the classification tower feeds
// one logits conv per source vocabulary (a branch each, so several label spaces train one
// head), the box tower feeds the (l, t, r, b) distances and the centerness logit. Distances
// are exp(scale_level * x) * stride: positive, and on the same footing at every level.
import { Conv2d, init, Module, ModuleList, newParameter, Sequential, type Parameter } from '../../nn'
import { shapeStr } from '../../tensor/shape'
import type { Tensor } from '../../tensor/tensor'
import { checkClassCounts, checkFeatures, checkStrides } from './check'
import { convGnRelu } from './layers'

/** One feature level: its stride against the input and its size. */
export interface FeatureLevel {
  stride: number
  height: number
  width: number
}

export interface FCOSOutputs {
  /** Per classification branch (source vocabulary), per level: logits [N, classes, H, W]. */
  classLogits: Tensor[][]
  /** Per level [N, 4, H, W]: distances (l, t, r, b) in input pixels from each location to its box's sides. */
  boxRegression: Tensor[]
  /** Per level [N, 1, H, W]: centerness logits. */
  centerness: Tensor[]
  strides: number[]
}

/** Checks that outputs hold consistent per-level maps; returns their levels (strides and sizes). */
export function outputLevels(fn: string, outputs: FCOSOutputs): FeatureLevel[] {
  const { classLogits, boxRegression, centerness, strides } = outputs ?? ({} as FCOSOutputs)
  const L = Array.isArray(boxRegression) ? boxRegression.length : 0
  const lists = [centerness, ...(Array.isArray(classLogits) ? classLogits : [])]
  const complete =
    L > 0 && Array.isArray(strides) && strides.length === L && Array.isArray(classLogits) && classLogits.length > 0
  if (!complete || !lists.every((m) => Array.isArray(m) && m.length === L))
    throw new Error(
      `${fn}: outputs must hold classLogits (per branch), boxRegression, centerness and strides with one entry per level`,
    )
  const [N] = boxRegression[0].shape
  return boxRegression.map((r, l) => {
    const [H, W] = [r.shape[2], r.shape[3]]
    const fits = (m: Tensor, c?: number) =>
      m.ndim === 4 && m.shape[0] === N && m.shape[2] === H && m.shape[3] === W && (c === undefined || m.shape[1] === c)
    if (!fits(r, 4) || !fits(centerness[l], 1) || !classLogits.every((b) => fits(b[l])))
      throw new Error(
        `${fn}: level ${l} maps disagree: boxRegression ${shapeStr(r.shape)}, centerness ${shapeStr(centerness[l].shape)}, ` +
          `classLogits ${classLogits.map((b) => shapeStr(b[l].shape)).join(', ')}`,
      )
    return { stride: strides[l], height: H, width: W }
  })
}

/**
 * The input-pixel location (x, y) each prediction stands for, level by level, row-major inside
 * a level: (j * s + floor(s / 2), i * s + floor(s / 2)), as in FCOS. 2 numbers per location.
 */
export function fcosPoints(levels: readonly FeatureLevel[]): Float32Array {
  const total = levels.reduce((n, l) => n + l.height * l.width, 0)
  const out = new Float32Array(2 * total)
  let p = 0
  for (const { stride, height, width } of levels) {
    const half = Math.floor(stride / 2)
    for (let i = 0; i < height; i++) {
      for (let j = 0; j < width; j++, p++) {
        out[2 * p] = j * stride + half
        out[2 * p + 1] = i * stride + half
      }
    }
  }
  return out
}

export interface FCOSHeadOptions {
  /** Stride of each input level against the image. */
  strides: number[]
  /** 3x3 convs per tower. Default 2 (FCOS uses 4 at 256 channels; this is sized for CPU). */
  numConvs?: number
  /** Initial foreground probability of every class (sets the logits' bias). Default 0.01. */
  priorProb?: number
}

/** Exponents above this would put a box side more than e^10 strides away: clamped so exp stays finite. */
const MAX_LOG_DISTANCE = 10

function headConv(cin: number, cout: number, bias = 0): Conv2d {
  const conv = new Conv2d(cin, cout, 3, { padding: 1 })
  init.normal_(conv.weight, 0, 0.01)
  init.constant_(conv.bias!, bias)
  return conv
}

function tower(channels: number, numConvs: number): Sequential {
  return new Sequential(...convGnRelu(channels, numConvs, () => headConv(channels, channels)))
}

export class FCOSHead extends Module {
  readonly inChannels: number
  readonly numClasses: number[]
  readonly strides: number[]
  clsTower: Sequential
  boxTower: Sequential
  clsLogits: ModuleList<Conv2d>
  boxPred: Conv2d
  centernessPred: Conv2d
  /** One learnable multiplier of the regression exponent per level, starting at 1. */
  scales: Parameter

  /** inChannels: the (common) width of every input level; numClasses: one count, or one per source vocabulary. */
  constructor(inChannels: number, numClasses: number | number[], opts: FCOSHeadOptions) {
    super()
    const fn = 'FCOSHead'
    if (!Number.isInteger(inChannels) || inChannels < 1)
      throw new Error(
        `${fn}: inChannels must be a positive integer (the width shared by all levels), got ${JSON.stringify(inChannels)}`,
      )
    this.inChannels = inChannels
    this.numClasses = checkClassCounts(fn, numClasses)
    if (!opts || !Array.isArray(opts.strides))
      throw new Error(`${fn}: options.strides (one stride per input level) is required`)
    this.strides = checkStrides(fn, opts.strides, opts.strides.length)
    const numConvs = opts.numConvs ?? 2
    if (!Number.isInteger(numConvs) || numConvs < 0)
      throw new Error(`${fn}: numConvs must be a non-negative integer, got ${numConvs}`)
    const prior = opts.priorProb ?? 0.01
    if (!(prior > 0 && prior < 1)) throw new Error(`${fn}: priorProb must be in (0, 1), got ${prior}`)
    this.clsTower = tower(inChannels, numConvs)
    this.boxTower = tower(inChannels, numConvs)
    const bias = -Math.log((1 - prior) / prior)
    this.clsLogits = new ModuleList(this.numClasses.map((c) => headConv(inChannels, c, bias)))
    this.boxPred = headConv(inChannels, 4)
    this.centernessPred = headConv(inChannels, 1)
    this.scales = init.ones_(newParameter([this.strides.length]))
  }

  /** Feature maps, one per stride, each [N, inChannels, H_l, W_l] -> the per-level predictions. */
  override forward(features: Tensor[]): FCOSOutputs {
    const xs = checkFeatures(
      'FCOSHead',
      features,
      this.strides.map(() => this.inChannels),
    )
    const branches = this.clsLogits.children() as Conv2d[]
    const out: FCOSOutputs = {
      classLogits: branches.map(() => []),
      boxRegression: [],
      centerness: [],
      strides: this.strides,
    }
    xs.forEach((x, l) => {
      const cls = this.clsTower.forward(x)
      branches.forEach((conv, b) => out.classLogits[b].push(conv.forward(cls)))
      const box = this.boxTower.forward(x)
      const exponent = this.boxPred.forward(box).mul(this.scales.narrow(0, l, 1))
      out.boxRegression.push(exponent.clamp(null, MAX_LOG_DISTANCE).exp().mul(this.strides[l]))
      out.centerness.push(this.centernessPred.forward(box))
    })
    return out
  }

  override extraRepr(): string {
    return `inChannels=${this.inChannels}, numClasses=${JSON.stringify(this.numClasses)}, strides=${JSON.stringify(this.strides)}`
  }
}

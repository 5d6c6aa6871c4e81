// Conv2d and ConvTranspose2d (NCHW), with torch's weight layouts and default initialisation.
import type { DType } from '../../tensor/dtype'
import type { Tensor } from '../../tensor/tensor'
import { conv2d, convTranspose2d, pad } from '../../ops'
import { calculateFanInAndFanOut, kaimingUniform_, uniform_ } from '../init'
import { Module } from '../module'
import { newParameter, type Parameter } from '../parameter'
import { checkPositiveInt } from './check'

export type Size2 = number | readonly [number, number]

function pair(layer: string, arg: string, v: Size2, min: number): [number, number] {
  const p: [number, number] =
    typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? [v[0], v[1]] : [NaN, NaN]
  if (!p.every((n) => Number.isInteger(n) && n >= min))
    throw new Error(`${layer}: ${arg} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`)
  return p
}

/** torch's default conv init: kaiming uniform (a = sqrt(5)) on the weight, U(±1/sqrt(fanIn)) on the bias. */
function resetConv(weight: Parameter, bias: Parameter | null): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) })
  if (bias) {
    const { fanIn } = calculateFanInAndFanOut(weight)
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0
    uniform_(bias, -bound, bound)
  }
}

function checkGroups(layer: string, inChannels: number, outChannels: number, groups: number): void {
  checkPositiveInt(layer, 'groups', groups)
  if (inChannels % groups || outChannels % groups)
    throw new Error(`${layer}: groups ${groups} must divide inChannels ${inChannels} and outChannels ${outChannels}`)
}

export interface Conv2dOptions {
  stride?: Size2
  /** Zero padding on each side, or 'same' / 'valid'. */
  padding?: Size2 | 'same' | 'valid'
  dilation?: Size2
  groups?: number
  bias?: boolean
  /** How the border is padded: zeros (default), or mirrored / repeated edge pixels. */
  paddingMode?: 'zeros' | 'reflect' | 'replicate'
  dtype?: DType
}

export class Conv2d extends Module {
  readonly inChannels: number
  readonly outChannels: number
  readonly kernelSize: [number, number]
  readonly stride: [number, number]
  readonly padding: [number, number] | 'same' | 'valid'
  readonly dilation: [number, number]
  readonly groups: number
  readonly paddingMode: 'zeros' | 'reflect' | 'replicate'
  weight: Parameter
  bias: Parameter | null

  constructor(inChannels: number, outChannels: number, kernelSize: Size2, opts: Conv2dOptions = {}) {
    super()
    const L = 'Conv2d'
    this.inChannels = checkPositiveInt(L, 'inChannels', inChannels)
    this.outChannels = checkPositiveInt(L, 'outChannels', outChannels)
    this.kernelSize = pair(L, 'kernelSize', kernelSize, 1)
    this.stride = pair(L, 'stride', opts.stride ?? 1, 1)
    const padding = opts.padding ?? 0
    this.padding = padding === 'same' || padding === 'valid' ? padding : pair(L, 'padding', padding, 0)
    this.dilation = pair(L, 'dilation', opts.dilation ?? 1, 1)
    this.groups = opts.groups ?? 1
    checkGroups(L, inChannels, outChannels, this.groups)
    if (padding === 'same' && (this.stride[0] !== 1 || this.stride[1] !== 1))
      throw new Error(`${L}: padding 'same' needs stride 1, got ${JSON.stringify(opts.stride)}`)
    this.paddingMode = opts.paddingMode ?? 'zeros'
    if (!['zeros', 'reflect', 'replicate'].includes(this.paddingMode))
      throw new Error(`${L}: paddingMode must be 'zeros', 'reflect' or 'replicate', got '${String(this.paddingMode)}'`)
    const dtype = opts.dtype ?? 'float32'
    this.weight = newParameter([outChannels, inChannels / this.groups, ...this.kernelSize], dtype)
    this.bias = (opts.bias ?? true) ? newParameter([outChannels], dtype) : null
    resetConv(this.weight, this.bias)
  }

  override forward(x: Tensor): Tensor {
    const opts = { stride: this.stride, dilation: this.dilation, groups: this.groups }
    if (this.paddingMode === 'zeros') return conv2d(x, this.weight, this.bias, { ...opts, padding: this.padding })
    // As torch: pad explicitly in the mode, then convolve without padding.
    return conv2d(pad(x, this.borders(), { mode: this.paddingMode }), this.weight, this.bias, { ...opts, padding: 0 })
  }

  /** [left, right, top, bottom]; 'same' puts the odd pixel at the right/bottom, as torch does. */
  private borders(): [number, number, number, number] {
    if (this.padding === 'valid') return [0, 0, 0, 0]
    if (this.padding === 'same') {
      const [th, tw] = [0, 1].map((d) => this.dilation[d] * (this.kernelSize[d] - 1))
      return [tw >> 1, tw - (tw >> 1), th >> 1, th - (th >> 1)]
    }
    const [ph, pw] = this.padding
    return [pw, pw, ph, ph]
  }

  override extraRepr(): string {
    return (
      `${this.inChannels}, ${this.outChannels}, kernelSize=${JSON.stringify(this.kernelSize)}, stride=${JSON.stringify(this.stride)}` +
      `, padding=${JSON.stringify(this.padding)}, dilation=${JSON.stringify(this.dilation)}, groups=${this.groups}, bias=${this.bias !== null}` +
      (this.paddingMode !== 'zeros' ? `, paddingMode='${this.paddingMode}'` : '')
    )
  }
}

export interface ConvTranspose2dOptions {
  stride?: Size2
  padding?: Size2
  outputPadding?: Size2
  dilation?: Size2
  groups?: number
  bias?: boolean
  dtype?: DType
}

export class ConvTranspose2d extends Module {
  readonly inChannels: number
  readonly outChannels: number
  readonly kernelSize: [number, number]
  readonly stride: [number, number]
  readonly padding: [number, number]
  readonly outputPadding: [number, number]
  readonly dilation: [number, number]
  readonly groups: number
  weight: Parameter
  bias: Parameter | null

  constructor(inChannels: number, outChannels: number, kernelSize: Size2, opts: ConvTranspose2dOptions = {}) {
    super()
    const L = 'ConvTranspose2d'
    this.inChannels = checkPositiveInt(L, 'inChannels', inChannels)
    this.outChannels = checkPositiveInt(L, 'outChannels', outChannels)
    this.kernelSize = pair(L, 'kernelSize', kernelSize, 1)
    this.stride = pair(L, 'stride', opts.stride ?? 1, 1)
    this.padding = pair(L, 'padding', opts.padding ?? 0, 0)
    this.outputPadding = pair(L, 'outputPadding', opts.outputPadding ?? 0, 0)
    this.dilation = pair(L, 'dilation', opts.dilation ?? 1, 1)
    this.groups = opts.groups ?? 1
    checkGroups(L, inChannels, outChannels, this.groups)
    const dtype = opts.dtype ?? 'float32'
    // torch's layout: [in, out / groups, kh, kw].
    this.weight = newParameter([inChannels, outChannels / this.groups, ...this.kernelSize], dtype)
    this.bias = (opts.bias ?? true) ? newParameter([outChannels], dtype) : null
    resetConv(this.weight, this.bias)
  }

  /** outputSize [H, W] picks among the sizes a strided transpose can produce (torch's output_size). */
  override forward(x: Tensor, outputSize?: readonly [number, number]): Tensor {
    const outputPadding = outputSize ? this.outputPaddingFor(x, outputSize) : this.outputPadding
    return convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      outputPadding,
      dilation: this.dilation,
      groups: this.groups,
    })
  }

  private outputPaddingFor(x: Tensor, outputSize: readonly [number, number]): [number, number] {
    if (x.ndim < 3)
      throw new Error(`ConvTranspose2d: expected a [C, H, W] or [N, C, H, W] input, got [${x.shape.join(', ')}]`)
    const inSize = x.shape.slice(-2)
    return [0, 1].map((d) => {
      const min =
        (inSize[d] - 1) * this.stride[d] - 2 * this.padding[d] + this.dilation[d] * (this.kernelSize[d] - 1) + 1
      const extra = outputSize[d] - min
      if (!Number.isInteger(outputSize[d]) || extra < 0 || extra >= Math.max(this.stride[d], this.dilation[d]))
        throw new Error(
          `ConvTranspose2d: outputSize ${JSON.stringify(outputSize)} is not reachable from input [${x.shape.join(', ')}] (dim ${d} can be ${min} to ${min + Math.max(this.stride[d], this.dilation[d]) - 1})`,
        )
      return extra
    }) as [number, number]
  }

  override extraRepr(): string {
    return (
      `${this.inChannels}, ${this.outChannels}, kernelSize=${JSON.stringify(this.kernelSize)}, stride=${JSON.stringify(this.stride)}` +
      `, padding=${JSON.stringify(this.padding)}, outputPadding=${JSON.stringify(this.outputPadding)}, groups=${this.groups}, bias=${this.bias !== null}`
    )
  }
}

// Pooling modules over NCHW inputs, wrapping the pooling ops with torch's constructor arguments.
import type { Tensor } from '../../tensor/tensor'
import { adaptiveAvgPool2d, avgPool2d, maxPool2d } from '../../ops'
import { Module } from '../module'
import type { Size2 } from './conv'

export interface MaxPool2dOptions {
  /** Defaults to kernelSize. */
  stride?: Size2 | null
  padding?: Size2
  dilation?: Size2
  ceilMode?: boolean
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Size2,
    readonly opts: MaxPool2dOptions = {},
  ) {
    super()
  }
  override forward(x: Tensor): Tensor {
    return maxPool2d(x, { kernelSize: this.kernelSize, ...this.opts })
  }
  override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}, ${JSON.stringify(this.opts)}`
  }
}

export interface AvgPool2dOptions {
  /** Defaults to kernelSize. */
  stride?: Size2 | null
  padding?: Size2
  ceilMode?: boolean
  countIncludePad?: boolean
  divisorOverride?: number | null
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: Size2,
    readonly opts: AvgPool2dOptions = {},
  ) {
    super()
  }
  override forward(x: Tensor): Tensor {
    return avgPool2d(x, { kernelSize: this.kernelSize, ...this.opts })
  }
  override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}, ${JSON.stringify(this.opts)}`
  }
}

/** Averages each plane down to outputSize ([H, W], a number for both, null to keep one dim). */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | readonly [number | null, number | null]) {
    super()
  }
  override forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize)
  }
  override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`
  }
}

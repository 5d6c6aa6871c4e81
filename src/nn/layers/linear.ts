// Linear (y = x W^T + b) and Identity, with torch's default initialisation.
import type { DType } from '../../tensor/dtype'
import type { Tensor } from '../../tensor/tensor'
import { linear } from '../../ops'
import { kaimingUniform_, uniform_, calculateFanInAndFanOut } from '../init'
import { Module } from '../module'
import { newParameter, type Parameter } from '../parameter'
import { checkPositiveInt } from './check'

export interface LinearOptions {
  bias?: boolean
  dtype?: DType
}

export class Linear extends Module {
  readonly inFeatures: number
  readonly outFeatures: number
  weight: Parameter
  bias: Parameter | null

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super()
    this.inFeatures = checkPositiveInt('Linear', 'inFeatures', inFeatures, 0)
    this.outFeatures = checkPositiveInt('Linear', 'outFeatures', outFeatures, 0)
    const dtype = opts.dtype ?? 'float32'
    this.weight = newParameter([outFeatures, inFeatures], dtype)
    this.bias = (opts.bias ?? true) ? newParameter([outFeatures], dtype) : null
    this.resetParameters()
  }

  /** torch's default: kaiming uniform with a = sqrt(5), i.e. U(±1/sqrt(fanIn)), for weight and bias. */
  resetParameters(): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5) })
    if (this.bias) {
      const { fanIn } = calculateFanInAndFanOut(this.weight)
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0
      uniform_(this.bias, -bound, bound)
    }
  }

  override forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias)
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`
  }
}

/** Returns its input unchanged (a placeholder, e.g. for a removed head). */
export class Identity extends Module {
  override forward(x: Tensor): Tensor {
    return x
  }
}

// Activation modules: thin wrappers over the elementwise ops, for use in Sequential.
import type { Tensor } from '../../tensor/tensor'
import { gelu, hardsigmoid, hardswish, leakyRelu, relu, sigmoid, silu, tanh } from '../../ops'
import type { NormActivation } from '../../ops/norm'
import { Module } from '../module'

export class ReLU extends Module {
  override forward(x: Tensor): Tensor {
    return relu(x)
  }
}

export class GELU extends Module {
  /** 'tanh' selects the tanh approximation, as torch.nn.GELU(approximate='tanh'). */
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super()
    if (approximate !== 'none' && approximate !== 'tanh')
      throw new Error(`GELU: approximate must be 'none' or 'tanh', got '${String(approximate)}'`)
  }
  override forward(x: Tensor): Tensor {
    return gelu(x, this.approximate)
  }
  override extraRepr(): string {
    return `approximate='${this.approximate}'`
  }
}

export class SiLU extends Module {
  override forward(x: Tensor): Tensor {
    return silu(x)
  }
}

export class Hardsigmoid extends Module {
  override forward(x: Tensor): Tensor {
    return hardsigmoid(x)
  }
}

export class Hardswish extends Module {
  override forward(x: Tensor): Tensor {
    return hardswish(x)
  }
}

export class Tanh extends Module {
  override forward(x: Tensor): Tensor {
    return tanh(x)
  }
}

export class Sigmoid extends Module {
  override forward(x: Tensor): Tensor {
    return sigmoid(x)
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super()
  }
  override forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope)
  }
  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`
  }
}

/**
 * The activation a batch norm can apply in its kernel (BatchNorm's forwardActivated) when m
 * is a ReLU, an erf GELU or a SiLU, exactly (a subclass may do more in its forward).
 */
export function normActivationOf(m: Module | undefined): NormActivation | undefined {
  if (m?.constructor === ReLU) return 'relu'
  if (m?.constructor === GELU && (m as GELU).approximate === 'none') return 'gelu'
  if (m?.constructor === SiLU) return 'silu'
  return undefined
}

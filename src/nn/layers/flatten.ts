// Flatten: merges dims startDim..endDim (default: all but the batch dim), as torch.nn.Flatten.
import type { Tensor } from '../../tensor/tensor'
import { flatten } from '../../ops'
import { Module } from '../module'

export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super()
  }
  override forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim)
  }
  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`
  }
}

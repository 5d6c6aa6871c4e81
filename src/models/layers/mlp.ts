// The transformer MLP (timm's Mlp): fc1 -> GELU -> dropout -> fc2 -> dropout.
import type { Tensor } from '../../tensor/tensor'
import { Dropout, GELU, Linear, Module } from '../../nn'
import { linearParams } from './count'

export class Mlp extends Module {
  fc1: Linear
  act = new GELU()
  drop: Dropout
  fc2: Linear

  constructor(inFeatures: number, hiddenFeatures: number, outFeatures = inFeatures, drop = 0) {
    super()
    this.fc1 = new Linear(inFeatures, hiddenFeatures)
    this.drop = new Dropout(drop)
    this.fc2 = new Linear(hiddenFeatures, outFeatures)
  }

  static countParameters(inFeatures: number, hiddenFeatures: number, outFeatures = inFeatures): number {
    return linearParams(inFeatures, hiddenFeatures) + linearParams(hiddenFeatures, outFeatures)
  }

  override forward(x: Tensor): Tensor {
    return this.drop.forward(this.fc2.forward(this.drop.forward(this.act.forward(this.fc1.forward(x)))))
  }
}

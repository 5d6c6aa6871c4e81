// MetaNet's convolutional blocks. MBConv: BN -> 1x1 expand -> BN -> GELU -> depthwise 3x3 ->
// BN -> GELU -> squeeze-excitation (hard-sigmoid gate) -> 1x1 project -> BN whose weight
// starts at zero, so each block starts as its shortcut. FusedMBConv replaces the 1x1 expand
// and the depthwise conv with one full 3x3 conv. Module names (residual, b1, b2) follow the
// authors' released code, so its checkpoints map onto these modules.
import type { Tensor } from '../../tensor/tensor'
import { shapeStr } from '../../tensor/shape'
import { BatchNorm2d, Conv2d, DropPath, GELU, Identity, Module, Sequential, init } from '../../nn'
import { adaptiveAvgPool2d, relu } from '../../ops'
import { convParams, normParams } from '../layers/count'
import { changesShape, hiddenWidthOf, projectionShortcut, projectionShortcutParams, type BlockSpec } from './blocks'

/** MobileNet's rounding to a multiple of `divisor`, never more than 10% below v. */
export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor)
  if (n < 0.9 * v) n += divisor
  return n
}

const squeezeWidth = (c: number): number => makeDivisible(Math.floor(c / 4))

/** Channel attention: x * hardsigmoid(fc2(relu(fc1(avgpool(x))))), squeezing to a quarter of the width. */
export class SqueezeExcitation extends Module {
  fc1: Conv2d
  fc2: Conv2d

  constructor(channels: number) {
    super()
    const s = squeezeWidth(channels)
    this.fc1 = new Conv2d(channels, s, 1)
    this.fc2 = new Conv2d(s, channels, 1)
  }

  static countParameters(channels: number): number {
    const s = squeezeWidth(channels)
    return convParams(channels, s, 1) + convParams(s, channels, 1)
  }

  override forward(x: Tensor): Tensor {
    const gate = this.fc2.forward(relu(this.fc1.forward(adaptiveAvgPool2d(x, 1)))).hardsigmoid()
    return x.mul(gate)
  }
}

/** BN -> conv (no bias: a BN follows) -> BN -> GELU: the expansion that opens both block types. */
function expansion(cin: number, hidden: number, k: number, stride: number): Sequential {
  return new Sequential(
    new BatchNorm2d(cin),
    new Conv2d(cin, hidden, k, { stride, padding: k >> 1, bias: false }),
    new BatchNorm2d(hidden),
    new GELU(),
  )
}

const expansionParams = (cin: number, hidden: number, k: number): number =>
  normParams(cin) + convParams(cin, hidden, k, { bias: false }) + normParams(hidden)

abstract class ConvBlock extends Module {
  residual: Module
  b1: Sequential | null = null
  b2!: Sequential
  drop_path: DropPath

  constructor(readonly spec: BlockSpec) {
    super()
    this.residual = changesShape(spec) ? projectionShortcut(spec) : new Identity()
    this.drop_path = new DropPath(spec.dropPath)
  }

  /** Zero weight on the last BN: the residual branch starts silent. */
  protected finish(): void {
    init.zeros_((this.b2.get(-1) as BatchNorm2d).weight as Tensor)
  }

  override forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.spec.inChannels)
      throw new Error(`${this.constructor.name}: expected [N, ${this.spec.inChannels}, H, W], got ${shapeStr(x.shape)}`)
    const branch = this.b2.forward(this.b1 ? this.b1.forward(x) : x)
    return (this.residual.forward(x) as Tensor).add(this.drop_path.forward(branch))
  }
}

export class MBConv extends ConvBlock {
  constructor(spec: BlockSpec) {
    super(spec)
    const { inChannels: cin, outChannels: cout, stride } = spec
    const hidden = hiddenWidthOf(spec)
    if (cin !== hidden || stride !== 1) this.b1 = expansion(cin, hidden, 1, 1)
    this.b2 = new Sequential(
      new Conv2d(hidden, hidden, 3, { stride, padding: 1, groups: hidden, bias: false }),
      new BatchNorm2d(hidden),
      new GELU(),
      new SqueezeExcitation(hidden),
      new Conv2d(hidden, cout, 1),
      new BatchNorm2d(cout),
    )
    this.finish()
  }

  static countParameters(spec: BlockSpec): number {
    const { inChannels: cin, outChannels: cout, stride } = spec
    const hidden = hiddenWidthOf(spec)
    const b1 = cin !== hidden || stride !== 1 ? expansionParams(cin, hidden, 1) : 0
    const b2 =
      convParams(hidden, hidden, 3, { groups: hidden, bias: false }) +
      normParams(hidden) +
      SqueezeExcitation.countParameters(hidden) +
      convParams(hidden, cout, 1) +
      normParams(cout)
    return projectionShortcutParams(spec) + b1 + b2
  }
}

export class FusedMBConv extends ConvBlock {
  constructor(spec: BlockSpec) {
    super(spec)
    const { inChannels: cin, outChannels: cout, stride } = spec
    const hidden = hiddenWidthOf(spec)
    // Without expansion, the 3x3 conv (and the stride) moves to the projection.
    const expands = cin !== hidden
    if (expands) this.b1 = expansion(cin, hidden, 3, stride)
    const k = expands ? 1 : 3
    this.b2 = new Sequential(
      new SqueezeExcitation(hidden),
      new Conv2d(hidden, cout, k, { stride: expands ? 1 : stride, padding: k >> 1 }),
      new BatchNorm2d(cout),
    )
    this.finish()
  }

  static countParameters(spec: BlockSpec): number {
    const { inChannels: cin, outChannels: cout } = spec
    const hidden = hiddenWidthOf(spec)
    const expands = cin !== hidden
    const b1 = expands ? expansionParams(cin, hidden, 3) : 0
    return (
      projectionShortcutParams(spec) +
      b1 +
      SqueezeExcitation.countParameters(hidden) +
      convParams(hidden, cout, expands ? 1 : 3) +
      normParams(cout)
    )
  }
}

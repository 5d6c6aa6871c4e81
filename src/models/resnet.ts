// ResNet-18/34/50/101 with torchvision's layout and parameter names (conv1, bn1,
// layer1.0.conv1.weight, layer1.0.downsample.0.weight, fc), so torchvision state dicts load
// unchanged. `cifar` swaps the 7x7 s2 stem + max-pool for one 3x3 s1 conv, for 32 px inputs
// (the names stay the same; conv1's weight is then [64, 3, 3, 3]).
import { shapeStr } from '../tensor/shape'
import type { Tensor } from '../tensor/tensor'
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Identity, Linear, MaxPool2d, Module, Sequential, init } from '../nn'
import { convParams, linearParams, normParams } from './layers/count'

export interface ResNetOptions {
  numClasses?: number
  inChannels?: number
  /** 3x3 stride-1 stem without max-pool, for 32x32 images. */
  cifar?: boolean
  /** Zero the last BN weight of each residual branch, so every block starts as its shortcut. */
  zeroInitResidual?: boolean
}

const conv3x3 = (cin: number, cout: number, stride = 1) => new Conv2d(cin, cout, 3, { stride, padding: 1, bias: false })
const conv1x1 = (cin: number, cout: number, stride = 1) => new Conv2d(cin, cout, 1, { stride, bias: false })

function downsample(cin: number, cout: number, stride: number): Sequential | null {
  return stride !== 1 || cin !== cout ? new Sequential(conv1x1(cin, cout, stride), new BatchNorm2d(cout)) : null
}

abstract class ResidualBlock extends Module {
  // Declared here, defined last in each subclass: torchvision's parameter order.
  declare downsample: Sequential | null

  protected abstract branch(x: Tensor): Tensor
  abstract lastNorm(): BatchNorm2d

  override forward(x: Tensor): Tensor {
    const identity = this.downsample ? this.downsample.forward(x) : x
    return this.branch(x).add(identity).relu()
  }
}

export class BasicBlock extends ResidualBlock {
  static readonly expansion = 1
  conv1: Conv2d
  bn1: BatchNorm2d
  conv2: Conv2d
  bn2: BatchNorm2d
  override downsample: Sequential | null

  constructor(cin: number, planes: number, stride = 1) {
    super()
    this.conv1 = conv3x3(cin, planes, stride)
    this.bn1 = new BatchNorm2d(planes)
    this.conv2 = conv3x3(planes, planes)
    this.bn2 = new BatchNorm2d(planes)
    this.downsample = downsample(cin, planes, stride)
  }

  static countParameters(cin: number, planes: number, stride: number): number {
    const ds = stride !== 1 || cin !== planes ? convParams(cin, planes, 1, { bias: false }) + normParams(planes) : 0
    return (
      convParams(cin, planes, 3, { bias: false }) +
      convParams(planes, planes, 3, { bias: false }) +
      2 * normParams(planes) +
      ds
    )
  }

  protected branch(x: Tensor): Tensor {
    return this.bn2.forward(this.conv2.forward(this.bn1.forwardActivated(this.conv1.forward(x), 'relu')))
  }

  /** conv1 -> bn1 and conv2 -> bn2 apply in sequence (foldBatchNorm's pairs). */
  convBatchNormPairs(): [string, string][] {
    return [
      ['conv1', 'bn1'],
      ['conv2', 'bn2'],
    ]
  }

  lastNorm(): BatchNorm2d {
    return this.bn2
  }
}

/** torchvision's ResNet v1.5 bottleneck: the stride is on the 3x3 conv. */
export class Bottleneck extends ResidualBlock {
  static readonly expansion = 4
  conv1: Conv2d
  bn1: BatchNorm2d
  conv2: Conv2d
  bn2: BatchNorm2d
  conv3: Conv2d
  bn3: BatchNorm2d
  override downsample: Sequential | null

  constructor(cin: number, planes: number, stride = 1) {
    super()
    const out = planes * Bottleneck.expansion
    this.conv1 = conv1x1(cin, planes)
    this.bn1 = new BatchNorm2d(planes)
    this.conv2 = conv3x3(planes, planes, stride)
    this.bn2 = new BatchNorm2d(planes)
    this.conv3 = conv1x1(planes, out)
    this.bn3 = new BatchNorm2d(out)
    this.downsample = downsample(cin, out, stride)
  }

  static countParameters(cin: number, planes: number, stride: number): number {
    const out = planes * 4
    const ds = stride !== 1 || cin !== out ? convParams(cin, out, 1, { bias: false }) + normParams(out) : 0
    return (
      convParams(cin, planes, 1, { bias: false }) +
      convParams(planes, planes, 3, { bias: false }) +
      convParams(planes, out, 1, { bias: false }) +
      2 * normParams(planes) +
      normParams(out) +
      ds
    )
  }

  protected branch(x: Tensor): Tensor {
    const y = this.bn2.forwardActivated(
      this.conv2.forward(this.bn1.forwardActivated(this.conv1.forward(x), 'relu')),
      'relu',
    )
    return this.bn3.forward(this.conv3.forward(y))
  }

  /** convN -> bnN apply in sequence (foldBatchNorm's pairs). */
  convBatchNormPairs(): [string, string][] {
    return [
      ['conv1', 'bn1'],
      ['conv2', 'bn2'],
      ['conv3', 'bn3'],
    ]
  }

  lastNorm(): BatchNorm2d {
    return this.bn3
  }
}

type BlockClass = typeof BasicBlock | typeof Bottleneck

export const RESNET_LAYERS: Record<string, { block: BlockClass; layers: [number, number, number, number] }> = {
  resnet18: { block: BasicBlock, layers: [2, 2, 2, 2] },
  resnet34: { block: BasicBlock, layers: [3, 4, 6, 3] },
  resnet50: { block: Bottleneck, layers: [3, 4, 6, 3] },
  resnet101: { block: Bottleneck, layers: [3, 4, 23, 3] },
}

function layout(depth: string): { block: BlockClass; layers: number[] } {
  const l = RESNET_LAYERS[depth]
  if (!l) throw new Error(`ResNet: unknown depth '${depth}'; known: ${Object.keys(RESNET_LAYERS).join(', ')}`)
  return l
}

const PLANES = [64, 128, 256, 512]

/** [inChannels, planes, stride] of every block. */
function plan(layers: number[], expansion: number): [number, number, number][][] {
  let cin = 64
  return layers.map((n, i) =>
    Array.from({ length: n }, (_, j): [number, number, number] => {
      const b: [number, number, number] = [cin, PLANES[i], j === 0 && i > 0 ? 2 : 1]
      cin = PLANES[i] * expansion
      return b
    }),
  )
}

export class ResNet extends Module {
  readonly name: string
  readonly inChannels: number
  readonly numClasses: number
  conv1: Conv2d
  bn1: BatchNorm2d
  maxpool: Module
  layer1: Sequential
  layer2: Sequential
  layer3: Sequential
  layer4: Sequential
  avgpool = new AdaptiveAvgPool2d(1)
  fc: Module

  /** depth: 'resnet18', 'resnet34', 'resnet50' or 'resnet101'. numClasses 0 leaves out fc. */
  constructor(depth: string, opts: ResNetOptions = {}) {
    super()
    const { block, layers } = layout(depth)
    this.name = depth
    this.inChannels = opts.inChannels ?? 3
    this.numClasses = opts.numClasses ?? 1000
    const cifar = opts.cifar ?? false
    this.conv1 = cifar
      ? conv3x3(this.inChannels, 64)
      : new Conv2d(this.inChannels, 64, 7, { stride: 2, padding: 3, bias: false })
    this.bn1 = new BatchNorm2d(64)
    this.maxpool = cifar ? new Identity() : new MaxPool2d(3, { stride: 2, padding: 1 })
    const stages = plan(layers, block.expansion).map(
      (blocks) => new Sequential(...blocks.map(([cin, planes, stride]) => new block(cin, planes, stride))),
    )
    ;[this.layer1, this.layer2, this.layer3, this.layer4] = stages
    this.fc = this.numClasses > 0 ? new Linear(512 * block.expansion, this.numClasses) : new Identity()
    // torchvision's init: kaiming normal (fan out, relu) for convs; BN weight 1, bias 0.
    for (const m of this.modules())
      if (m instanceof Conv2d) init.kaimingNormal_(m.weight, { mode: 'fanOut', nonlinearity: 'relu' })
    if (opts.zeroInitResidual)
      for (const m of this.modules()) if (m instanceof ResidualBlock) init.zeros_(m.lastNorm().weight as Tensor)
  }

  static countParameters(depth: string, opts: ResNetOptions = {}): number {
    const { block, layers } = layout(depth)
    const cin = opts.inChannels ?? 3
    const classes = opts.numClasses ?? 1000
    let n = convParams(cin, 64, opts.cifar ? 3 : 7, { bias: false }) + normParams(64)
    for (const stage of plan(layers, block.expansion))
      for (const [c, planes, stride] of stage) n += block.countParameters(c, planes, stride)
    return n + (classes > 0 ? linearParams(512 * block.expansion, classes) : 0)
  }

  /** Number of stages (layer1..layer4). */
  get stageCount(): number {
    return 4
  }

  /** Output widths of layer1..layer4. */
  get stageChannels(): number[] {
    const e = this.layer1.get(0) instanceof Bottleneck ? 4 : 1
    return PLANES.map((p) => p * e)
  }

  /** Strides of layer1..layer4's outputs against the input. */
  get stageStrides(): number[] {
    return this.maxpool instanceof Identity ? [1, 2, 4, 8] : [4, 8, 16, 32]
  }

  /** forwardFeatures returns every stage. */
  get featureStages(): number[] {
    return [0, 1, 2, 3]
  }

  /** Output widths of layer1..layer4. */
  get featureChannels(): number[] {
    return this.stageChannels
  }

  /** Width of forwardPooled's output. */
  get pooledDim(): number {
    return this.stageChannels[3]
  }

  /** Strides of forwardFeatures' outputs against the input. */
  get featureStrides(): number[] {
    return this.stageStrides
  }

  /** The stem's conv1 -> bn1 (foldBatchNorm's pair). */
  convBatchNormPairs(): [string, string][] {
    return [['conv1', 'bn1']]
  }

  /** conv1, bn1, relu, max-pool: the input of layer1. */
  forwardStem(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels)
      throw new Error(
        `ResNet '${this.name}': expected an input [N, ${this.inChannels}, H, W], got ${shapeStr(x.shape)}`,
      )
    return this.maxpool.forward(this.bn1.forwardActivated(this.conv1.forward(x), 'relu')) as Tensor
  }

  /** Runs layer{i+1} on the previous stage's output (the stem's for stage 0). */
  forwardStage(i: number, y: Tensor): Tensor {
    const layers = [this.layer1, this.layer2, this.layer3, this.layer4]
    if (!Number.isInteger(i) || i < 0 || i >= layers.length)
      throw new Error(`ResNet '${this.name}'.forwardStage: stage must be an integer in [0, 4), got ${i}`)
    return layers[i].forward(y)
  }

  /** Global average pool of layer4's output: [N, 512 * expansion]. */
  forwardHead(y: Tensor): Tensor {
    return this.avgpool.forward(y).flatten(1)
  }

  /** The outputs of layer1..layer4 (strides 4, 8, 16, 32; 1, 2, 4, 8 in the CIFAR layout). */
  forwardFeatures(x: Tensor): Tensor[] {
    let y = this.forwardStem(x)
    const out: Tensor[] = []
    for (let i = 0; i < this.stageCount; i++) out.push((y = this.forwardStage(i, y)))
    return out
  }

  /** The pooled feature [N, 512 * expansion] before fc. */
  forwardPooled(x: Tensor): Tensor {
    return this.forwardHead(this.forwardFeatures(x)[3])
  }

  override forward(x: Tensor): Tensor {
    return this.fc.forward(this.forwardPooled(x)) as Tensor
  }
}

export const resnet18 = (opts: ResNetOptions = {}) => new ResNet('resnet18', opts)
export const resnet50 = (opts: ResNetOptions = {}) => new ResNet('resnet50', opts)

// MetaNet (INTERN's GV-Architecture): stem 3x3 s2 conv + BN + GELU, a flat list of blocks
// grouped in stages, head 1x1 conv + BN + GELU, global average pool, linear classifier.
// Parameter names (stem.0, blocks.7.b2.3.fc1, head.0, classifier) follow the authors'
// released code.
import { shapeStr } from '../../tensor/shape'
import type { Tensor } from '../../tensor/tensor'
import { BatchNorm2d, Conv2d, GELU, Identity, Linear, Module, Sequential, init } from '../../nn'
import { adaptiveAvgPool2d } from '../../ops'
import { convParams, linearParams, normParams } from '../layers/count'
import { SABlock, XCABlock } from './attention-blocks'
import type { BlockSpec } from './blocks'
import { metaNetConfig, validateConfig, type BlockType, type MetaNetConfig } from './config'
import { FusedMBConv, MBConv } from './conv-blocks'

const BLOCKS = { mbconv: MBConv, fusedMbconv: FusedMBConv, sa: SABlock, xca: XCABlock } as const

export interface PlannedBlock {
  type: BlockType
  stage: number
  spec: BlockSpec
}

/** Every block in order with its input/output widths, stride and drop-path rate. */
export function planBlocks(config: MetaNetConfig): PlannedBlock[] {
  const total = config.stages.reduce((n, s) => n + s.repeats, 0)
  const out: PlannedBlock[] = []
  let cin = config.stemWidth
  config.stages.forEach((s, stage) => {
    for (let i = 0; i < s.repeats; i++) {
      const dropPath = total > 1 ? (config.dropPathRate * out.length) / (total - 1) : 0
      const spec: BlockSpec = {
        inChannels: cin,
        outChannels: s.channels,
        stride: i === 0 ? s.stride : 1,
        expansion: s.expansion,
        headDim: s.headDim,
        dropPath,
        layerScaleInit: config.layerScaleInit,
      }
      out.push({ type: s.block, stage, spec })
      cin = s.channels
    }
  })
  return out
}

/** The parameter count of a MetaNet, from its configuration alone (nothing is allocated). */
export function countParameters(config: MetaNetConfig | string, numClasses?: number): number {
  const c = validateConfig(typeof config === 'string' ? metaNetConfig(config) : config)
  const classes = numClasses ?? c.numClasses
  const last = c.stages[c.stages.length - 1].channels
  let n = convParams(c.inChannels, c.stemWidth, 3, { bias: false }) + normParams(c.stemWidth)
  for (const b of planBlocks(c)) n += BLOCKS[b.type].countParameters(b.spec)
  n += convParams(last, c.headWidth, 1, { bias: false }) + normParams(c.headWidth)
  return n + (classes > 0 ? linearParams(c.headWidth, classes) : 0)
}

export class MetaNet extends Module {
  readonly config: MetaNetConfig
  /** Index in `blocks` of the last block of each stage. */
  readonly stageEnds: number[]
  stem: Sequential
  blocks: Sequential
  head: Sequential
  classifier: Module

  /** A named configuration ('mn-t', 'mn-s', 'mn-b4', 'mn-b15') or a full one. */
  constructor(config: MetaNetConfig | string, overrides: Partial<MetaNetConfig> = {}) {
    super()
    const c =
      typeof config === 'string' ? metaNetConfig(config, overrides) : validateConfig({ ...config, ...overrides })
    this.config = c
    this.stem = new Sequential(
      new Conv2d(c.inChannels, c.stemWidth, 3, { stride: 2, padding: 1, bias: false }),
      new BatchNorm2d(c.stemWidth),
      new GELU(),
    )
    const plan = planBlocks(c)
    this.blocks = new Sequential(...plan.map((b) => new BLOCKS[b.type](b.spec)))
    this.stageEnds = c.stages.map((_, s) => plan.map((b) => b.stage).lastIndexOf(s))
    const last = c.stages[c.stages.length - 1].channels
    this.head = new Sequential(
      new Conv2d(last, c.headWidth, 1, { bias: false }),
      new BatchNorm2d(c.headWidth),
      new GELU(),
    )
    this.classifier = c.numClasses > 0 ? new Linear(c.headWidth, c.numClasses) : new Identity()
    // Transformer-style init for every Linear (truncated normal, std 0.02, zero bias); convs keep torch's default.
    this.apply((m) => {
      if (!(m instanceof Linear)) return
      init.truncNormal_(m.weight, 0, 0.02, -0.04, 0.04)
      if (m.bias) init.zeros_(m.bias)
    })
  }

  /** Width of forwardPooled's output. */
  get pooledDim(): number {
    return this.config.headWidth
  }

  /** Number of stages (the config's stages; forwardStage runs one). */
  get stageCount(): number {
    return this.config.stages.length
  }

  /** Output channels of each stage. */
  get stageChannels(): number[] {
    return this.config.stages.map((s) => s.channels)
  }

  /** Stride of each stage's output against the input (stem 2, then each stage's). */
  get stageStrides(): number[] {
    const cumulative: number[] = []
    this.config.stages.reduce((stride, s) => (cumulative.push(stride * s.stride), stride * s.stride), 2)
    return cumulative
  }

  /** The stages whose outputs forwardFeatures returns (config.outStages). */
  get featureStages(): number[] {
    return [...this.config.outStages]
  }

  /** Strides of forwardFeatures' outputs against the input. */
  get featureStrides(): number[] {
    const strides = this.stageStrides
    return this.config.outStages.map((s) => strides[s])
  }

  /** Channels of each forwardFeatures output. */
  get featureChannels(): number[] {
    return this.config.outStages.map((s) => this.config.stages[s].channels)
  }

  private checkInput(x: Tensor): void {
    const c = this.config
    if (x.ndim !== 4 || x.shape[1] !== c.inChannels)
      throw new Error(`MetaNet '${c.name}': expected an input [N, ${c.inChannels}, H, W], got ${shapeStr(x.shape)}`)
  }

  /** The stem's output, the input of stage 0. */
  forwardStem(x: Tensor): Tensor {
    this.checkInput(x)
    return this.stem.forward(x)
  }

  /** Runs the blocks of stage `i` on the previous stage's output (the stem's for stage 0). */
  forwardStage(i: number, y: Tensor): Tensor {
    if (!Number.isInteger(i) || i < 0 || i >= this.stageCount)
      throw new Error(
        `MetaNet '${this.config.name}'.forwardStage: stage must be an integer in [0, ${this.stageCount}), got ${i}`,
      )
    const blocks = this.blocks.children()
    for (let b = i === 0 ? 0 : this.stageEnds[i - 1] + 1; b <= this.stageEnds[i]; b++)
      y = blocks[b].forward(y) as Tensor
    return y
  }

  /** The head and global average pool on the last stage's output: [N, headWidth]. */
  forwardHead(y: Tensor): Tensor {
    return adaptiveAvgPool2d(this.head.forward(y), 1).flatten(1)
  }

  /** The outputs of the stages in config.outStages (by default 1, 2, 4, 5: strides 4, 8, 16, 32), for necks. */
  forwardFeatures(x: Tensor): Tensor[] {
    const feats: Tensor[] = []
    const wanted = new Set(this.config.outStages)
    let y = this.forwardStem(x)
    for (let i = 0; i < this.stageCount; i++) {
      y = this.forwardStage(i, y)
      if (wanted.has(i)) feats.push(y)
    }
    return feats
  }

  /** The pooled headWidth-d feature before the classifier [N, headWidth]. */
  forwardPooled(x: Tensor): Tensor {
    let y = this.forwardStem(x)
    for (let i = 0; i < this.stageCount; i++) y = this.forwardStage(i, y)
    return this.forwardHead(y)
  }

  /** Logits [N, numClasses] (the pooled features when numClasses is 0). */
  override forward(x: Tensor): Tensor {
    return this.classifier.forward(this.forwardPooled(x)) as Tensor
  }
}

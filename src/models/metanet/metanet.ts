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
      const spec: BlockSpec = { inChannels: cin, outChannels: s.channels, stride: i === 0 ? s.stride : 1, expansion: s.expansion, headDim: s.headDim, dropPath, layerScaleInit: config.layerScaleInit }
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
    const c = typeof config === 'string' ? metaNetConfig(config, overrides) : validateConfig({ ...config, ...overrides })
    this.config = c
    this.stem = new Sequential(new Conv2d(c.inChannels, c.stemWidth, 3, { stride: 2, padding: 1, bias: false }), new BatchNorm2d(c.stemWidth), new GELU())
    const plan = planBlocks(c)
    this.blocks = new Sequential(...plan.map((b) => new BLOCKS[b.type](b.spec)))
    this.stageEnds = c.stages.map((_, s) => plan.map((b) => b.stage).lastIndexOf(s))
    const last = c.stages[c.stages.length - 1].channels
    this.head = new Sequential(new Conv2d(last, c.headWidth, 1, { bias: false }), new BatchNorm2d(c.headWidth), new GELU())
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

  /** Strides of forwardFeatures' outputs against the input (stem 2, then each stage's). */
  get featureStrides(): number[] {
    const cumulative: number[] = []
    this.config.stages.reduce((stride, s) => (cumulative.push(stride * s.stride), stride * s.stride), 2)
    return this.config.outStages.map((s) => cumulative[s])
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

  /** The outputs of the stages in config.outStages (by default 1, 2, 4, 5: strides 4, 8, 16, 32), for necks. */
  forwardFeatures(x: Tensor): Tensor[] {
    this.checkInput(x)
    const feats: Tensor[] = []
    const wanted = new Set(this.config.outStages.map((s) => this.stageEnds[s]))
    let y = this.stem.forward(x)
    this.blocks.children().forEach((b, i) => {
      y = b.forward(y) as Tensor
      if (wanted.has(i)) feats.push(y)
    })
    return feats
  }

  /** The pooled headWidth-d feature before the classifier [N, headWidth]. */
  forwardPooled(x: Tensor): Tensor {
    this.checkInput(x)
    const y = this.head.forward(this.blocks.forward(this.stem.forward(x)))
    return adaptiveAvgPool2d(y, 1).flatten(1)
  }

  /** Logits [N, numClasses] (the pooled features when numClasses is 0). */
  override forward(x: Tensor): Tensor {
    return this.classifier.forward(this.forwardPooled(x)) as Tensor
  }
}

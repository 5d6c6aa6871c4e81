// The MetaNet search space as data: a network is a stem, six stages (each one block type,
// repeated) and a 1x1-conv head. The published configurations come from
// shared/reference/intern-facts.md; see docs/models.md for how the facts were read.

export type BlockType = 'mbconv' | 'fusedMbconv' | 'sa' | 'xca'

export const BLOCK_TYPES: readonly BlockType[] = ['mbconv', 'fusedMbconv', 'sa', 'xca']

export interface StageConfig {
  block: BlockType
  repeats: number
  /** Hidden width over the block's INPUT channels (MBConv expansion; the MLP ratio of attention blocks). */
  expansion: number
  channels: number
  /** Stride of the stage's first block. */
  stride: number
  /** Channels per attention head (attention blocks only; heads = input channels / headDim). */
  headDim: number
}

export interface MetaNetConfig {
  name: string
  inChannels: number
  stemWidth: number
  stages: StageConfig[]
  /** Stochastic depth, rising linearly from 0 at the first block to this at the last. */
  dropPathRate: number
  /** Width of the 1x1 conv head before pooling. */
  headWidth: number
  /** 0 leaves out the classifier: forward returns the pooled features. */
  numClasses: number
  /** Stages (0-based) whose outputs forwardFeatures returns. */
  outStages: number[]
  /** Initial value of the attention blocks' layer scale. */
  layerScaleInit: number
}

const STRIDES = [1, 2, 2, 2, 1, 2]

function stages(
  blocks: BlockType[],
  repeats: number[],
  expansion: number[],
  channels: number[],
  headDim: number,
): StageConfig[] {
  return blocks.map((block, i) => ({
    block,
    repeats: repeats[i],
    expansion: expansion[i],
    channels: channels[i],
    stride: STRIDES[i],
    headDim,
  }))
}

function config(
  name: string,
  stemWidth: number,
  stageList: StageConfig[],
  extra: Partial<MetaNetConfig> = {},
): MetaNetConfig {
  return {
    name,
    inChannels: 3,
    stemWidth,
    stages: stageList,
    dropPathRate: 0,
    headWidth: 1280,
    numClasses: 1000,
    outStages: [1, 2, 4, 5],
    layerScaleInit: 1e-6,
    ...extra,
  }
}

const EXPANSION = [1, 4, 6, 3, 2, 5]

/** Named configurations: the two published ones and two small ones for CPU work on 32-64 px images. */
export const METANET_CONFIGS: Record<string, MetaNetConfig> = {
  // 31.7M parameters with a 1000-class head.
  'mn-b4': config(
    'mn-b4',
    32,
    stages(
      ['mbconv', 'mbconv', 'mbconv', 'mbconv', 'sa', 'sa'],
      [2, 3, 6, 6, 6, 12],
      EXPANSION,
      [32, 64, 128, 192, 192, 384],
      48,
    ),
  ),
  // About 1.0B parameters.
  'mn-b15': config(
    'mn-b15',
    96,
    stages(
      ['fusedMbconv', 'fusedMbconv', 'mbconv', 'mbconv', 'xca', 'xca'],
      [4, 6, 12, 12, 12, 24],
      EXPANSION,
      [128, 256, 512, 768, 768, 1536],
      64,
    ),
    { dropPathRate: 0.3 },
  ),
  // Every block type in use, small enough for tests and CPU training (a narrower head: 1280
  // would be most of the model at this width).
  'mn-t': config(
    'mn-t',
    16,
    stages(
      ['fusedMbconv', 'mbconv', 'mbconv', 'sa', 'xca', 'xca'],
      [1, 2, 2, 2, 1, 2],
      [1, 4, 4, 2, 2, 2],
      [16, 24, 48, 64, 64, 128],
      16,
    ),
    { headWidth: 512, numClasses: 10 },
  ),
  'mn-s': config(
    'mn-s',
    24,
    stages(
      ['fusedMbconv', 'mbconv', 'mbconv', 'sa', 'xca', 'xca'],
      [1, 2, 3, 3, 3, 4],
      [1, 4, 4, 3, 2, 3],
      [24, 48, 64, 128, 128, 256],
      32,
    ),
    { headWidth: 640, numClasses: 100 },
  ),
}

/** A named configuration (a fresh copy), with optional overrides such as numClasses. */
export function metaNetConfig(name: string, overrides: Partial<MetaNetConfig> = {}): MetaNetConfig {
  const base = METANET_CONFIGS[name]
  if (!base)
    throw new Error(`metaNetConfig: unknown MetaNet '${name}'; known: ${Object.keys(METANET_CONFIGS).join(', ')}`)
  const copy: MetaNetConfig = { ...base, stages: base.stages.map((s) => ({ ...s })), outStages: [...base.outStages] }
  return validateConfig({ ...copy, ...overrides })
}

const isInt = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min

/** Checks a configuration, naming the first bad field; returns it unchanged. */
export function validateConfig(c: MetaNetConfig): MetaNetConfig {
  const bad = (what: string): never => {
    throw new Error(`MetaNet config '${c.name}': ${what}`)
  }
  if (!isInt(c.inChannels, 1)) bad(`inChannels must be a positive integer, got ${c.inChannels}`)
  if (!isInt(c.stemWidth, 1)) bad(`stemWidth must be a positive integer, got ${c.stemWidth}`)
  if (!isInt(c.headWidth, 1)) bad(`headWidth must be a positive integer, got ${c.headWidth}`)
  if (!isInt(c.numClasses, 0)) bad(`numClasses must be a non-negative integer, got ${c.numClasses}`)
  if (!(c.dropPathRate >= 0 && c.dropPathRate < 1)) bad(`dropPathRate must be in [0, 1), got ${c.dropPathRate}`)
  if (!(c.layerScaleInit > 0)) bad(`layerScaleInit must be positive, got ${c.layerScaleInit}`)
  if (!Array.isArray(c.stages) || c.stages.length === 0) bad('stages must be a non-empty list')
  let cin = c.stemWidth
  c.stages.forEach((s, i) => {
    const at = `stage ${i}`
    if (!BLOCK_TYPES.includes(s.block)) bad(`${at}: block must be one of ${BLOCK_TYPES.join(', ')}, got '${s.block}'`)
    if (!isInt(s.repeats, 1)) bad(`${at}: repeats must be a positive integer, got ${s.repeats}`)
    if (!isInt(s.channels, 1)) bad(`${at}: channels must be a positive integer, got ${s.channels}`)
    if (!isInt(s.stride, 1)) bad(`${at}: stride must be a positive integer, got ${s.stride}`)
    if (!(s.expansion > 0) || !isInt(Math.floor(cin * s.expansion), 1))
      bad(`${at}: expansion must be positive, got ${s.expansion}`)
    if (s.block === 'sa' || s.block === 'xca') {
      if (!isInt(s.headDim, 1)) bad(`${at}: headDim must be a positive integer, got ${s.headDim}`)
      // Heads are counted on each block's input: the first block sees the previous stage's width.
      for (const width of new Set([cin, s.channels]))
        if (width % s.headDim) bad(`${at}: headDim ${s.headDim} must divide the block input width ${width}`)
    }
    cin = s.channels
  })
  const n = c.stages.length
  if (
    !Array.isArray(c.outStages) ||
    c.outStages.some((o, k) => !isInt(o, 0) || o >= n || (k > 0 && o <= c.outStages[k - 1]))
  )
    bad(`outStages must be increasing stage indices below ${n}, got ${JSON.stringify(c.outStages)}`)
  return c
}

export { MetaNet, countParameters, planBlocks, type PlannedBlock } from './metanet'
export {
  METANET_CONFIGS,
  BLOCK_TYPES,
  metaNetConfig,
  validateConfig,
  type BlockType,
  type MetaNetConfig,
  type StageConfig,
} from './config'
export { MBConv, FusedMBConv, SqueezeExcitation, makeDivisible } from './conv-blocks'
export { SABlock, XCABlock, CrossCovarianceAttention } from './attention-blocks'
export type { BlockSpec } from './blocks'

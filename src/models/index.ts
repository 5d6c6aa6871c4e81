// The model zoo: MetaNet (INTERN's GV-Architecture), ResNet, ViT and a text encoder.
export * from './metanet'
export { ResNet, BasicBlock, Bottleneck, RESNET_LAYERS, resnet18, resnet50, type ResNetOptions } from './resnet'
export { VisionTransformer, PatchEmbed, VIT_CONFIGS, type ViTConfig, type ViTOptions } from './vit'
export * from './text'
export { SelfAttention, type SelfAttentionOptions } from './layers/attention'
export { Block, type BlockOptions } from './layers/block'
export { Mlp } from './layers/mlp'
export { createModel, listModels, loadMetaNetConfig, type Backbone, type CreateModelOptions } from './zoo'

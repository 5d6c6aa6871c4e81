// GV-D: datasets for every supervision type, the procedural world, real-data loaders,
// percentage-shot sampling, transforms and the DataLoader. Plain typed arrays throughout; only
// to-tensor.ts (exported separately) touches the engine.
export * from './types'
export * from './rng'
export * from './labels'
export * from './recipe'
export * from './dataset'
export * from './collate'
export * from './transforms'
export * from './caption-augment'
export * from './sampling'
export * from './registry'
export * from './cache'
export { DataLoader, type DataLoaderOptions } from './loader'
export * from './world/concepts'
export { WORLD_DOMAINS, type WorldDomain } from './world/domains'
export {
  worldDataset,
  WorldDataset,
  WORLD_CARD,
  WORLD_TARGETS,
  MIN_VISIBILITY,
  MIN_VISIBLE_PIXELS,
  type WorldOptions,
  type WorldTarget,
  type WorldScene,
} from './world/world'
export { makeCaption, objectPhrase, relation, sizeWord } from './world/captions'
export { parseIdx, readIdxFile, fashionMnistAvailable, FASHION_MNIST_ROOT } from './formats/idx'
export * from './formats/mnist'
export * from './formats/files'
export {
  decodeImage,
  encodePng,
  encodeJpeg,
  encodeGreyPng,
  decodeGreyValues,
  type DecodeOptions,
} from './formats/image-io'
export * from './gvd'
